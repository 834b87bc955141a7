"""Whatever a person (or a forged client) sends, the dispatcher answers politely, never
crashes, and a refused input changes nothing. Property-based, on SQLite."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.outbox import Sender
from bot.services import Services
from bot.services.i18n import Catalogs
from handlers.question import TOPICS
from handlers.types import MAX_TEXT, Incoming
from storage import conversations, db, unions
from storage.directory import load as load_directory
from storage.models import Case
from tests.handlers.conftest import NOW
from tests.support import SAMPLE_DIRECTORY, TEST_VAULT, shared_knowledge

REFUSAL = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."
GOOD = {
    "menu:home",
    "lang:choose",
    "lang:vi",
    "lang:en",
    "status:list",
    "faq:home",
    "faq:ask",
    "faq:g:join",
    "faq:g:rights:1",
    "faq:t:rights.wage_payment",
} | {f"q:{step}:{topic}" for step in ("offer", "write") for topic in TOPICS}
PAYLOADS = st.one_of(
    st.text(max_size=90),
    st.from_regex(r"[a-z]{1,6}:[A-Za-z0-9_.:-]{0,70}", fullmatch=True),
    st.sampled_from(
        [
            *sorted(GOOD),
            "q:send",
            "q:offer:",
            "lang:EN",
            "menu:home ",
            "faq:g:rights:9",
            "faq:t:rights",
            "faq:g:join:x",
            "faq:t:../vi/join.how",
            # Numbers that pass str.isdigit() and break int(): "²", and Arabic-Indic digits.
            "faq:g:rights:²",
            "poll:²:0",
            "poll:1:١",
            "o:view:²",
            "bc:approve:²",
        ]
    ),
)
EXAMPLES = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def _scenario(path: Path, msg: Incoming) -> tuple[list, dict, dict, int]:
    database = db.Database.open(f"sqlite+aiosqlite:///{path}")
    try:
        base = Settings.from_env({"DATABASE_URL": "sqlite+aiosqlite:///x"})
        services = Services(
            base,
            Catalogs(base.content_dir / "locales"),
            shared_knowledge(),
            TEST_VAULT,
            lambda: NOW,
        )
        dispatcher = Dispatcher(services, {}, Sender(database, services, {}))
        async with database.sessions() as session:
            if not await unions.count(session):
                await unions.import_directory(session, load_directory(SAMPLE_DIRECTORY))
            for setup in (
                Incoming("t", "1", "1", text="/start"),
                Incoming("t", "1", "1", payload="q:write:faq"),
            ):
                await dispatcher.handle(session, setup, NOW)
            await session.commit()
        async with database.sessions() as session:
            before = await conversations.load(session, 1)
            replies = await dispatcher.handle(session, msg, NOW)
            await session.commit()
        async with database.sessions() as session:
            after = await conversations.load(session, 1)
            cases = await session.scalar(select(func.count()).select_from(Case))
        return replies, before, after, int(cases or 0)
    finally:
        await database.close()


def _fresh(tmp_path: Path, template: Path) -> Path:
    path = tmp_path / "robust.db"
    path.unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return path


@EXAMPLES
@given(payload=PAYLOADS)
def test_any_button_payload_gets_an_answer_and_forged_ones_change_nothing(
    tmp_path, sqlite_template, payload
):
    path = _fresh(tmp_path, sqlite_template)
    msg = Incoming("t", "1", "1", payload=payload)
    replies, before, after, cases = asyncio.run(_scenario(path, msg))
    assert replies and all(0 < len(r.text) <= MAX_TEXT for r in replies)
    assert cases == 0
    if payload not in GOOD:
        assert [r.text for r in replies] == [REFUSAL]
        assert after == before


@EXAMPLES
@given(text=st.one_of(st.text(max_size=300), st.text(min_size=4090, max_size=4200)))
def test_any_text_gets_an_answer_and_overlong_text_changes_nothing(tmp_path, sqlite_template, text):
    path = _fresh(tmp_path, sqlite_template)
    replies, before, after, cases = asyncio.run(_scenario(path, Incoming("t", "1", "1", text=text)))
    assert replies and all(0 < len(r.text) <= MAX_TEXT for r in replies)
    if len(text) > MAX_TEXT:
        assert replies[0].text.startswith("Tin nhắn của bạn dài quá")
        assert (after, cases) == (before, 0)
