"""A database reader (the federation's IT staff, a copied backup) against an anonymous report.

The worker reports their employer anonymously on Telegram, an officer answers through the bot,
then the worker erases their data with /xoadulieu. Whoever reads every table afterwards, and
knows the worker's Telegram id and roughly when the report was sent, must find nothing that
joins the two: no row holding the id, no PIN in clear, no row on the person's side sharing
the report's exact moment with the case.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.outbox import Sender
from storage.models import Base, Case, OutboxItem
from tests.fakes.telegram_api import TelegramUser
from tests.scenarios import add_officer
from tests.support import TEST_VAULT

WORKER = 8123456789  # a Telegram id distinctive enough to search for
OFFICER = 7005
PHONE = "0987654321"


async def every_row(sessions) -> dict[str, list[dict[str, Any]]]:
    """Every column of every row of every table, as a reader of the database sees it."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            found[table.name] = [dict(row) for row in rows]
    return found


def text_of(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")  # sealed: ciphertext, but search it all the same
    return repr(value)


def moments(value: Any) -> list[datetime]:
    return [value] if isinstance(value, datetime) else []


async def register_interest(worker: TelegramUser) -> None:
    """Earlier, the same worker asked to join the union, with their name and phone."""
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    await worker.say("Trần Thị Hoa")
    await worker.say(PHONE)
    await worker.say("xuong may lang biang")
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Bỏ qua")
    await worker.press("Gửi")


async def file_anonymous_report(fake, worker: TelegramUser) -> tuple[str, str, datetime, datetime]:
    """The report, anonymously; its code, its PIN and the moments just before and after."""
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("xuong may lang biang")
    await worker.press("Đúng rồi")
    await worker.say("Quản lý nợ lương hai tháng, ai hỏi thì bị doạ đuổi.")
    await worker.press("Trong tháng này")
    await worker.press("Hơn 50 người")
    await worker.press("Xong, tiếp tục")
    await worker.press("Tôi muốn ẩn danh")
    before = datetime.now(UTC)
    await worker.press("Gửi", replies=2)
    after = datetime.now(UTC)
    receipt = "\n".join(m["text"] for m in fake.sent(WORKER)[-2:])
    code = re.search(r"KN-\d{4}-\d{6}", receipt)
    pin = re.search(r"PIN[^0-9]*(\d{6})", receipt)
    assert code and pin, receipt
    return code.group(), pin.group(1), before, after


async def test_nothing_links_an_erased_anonymous_reporter_to_their_report(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    # An anonymous report goes to the union outside the company by default.
    await add_officer(sessions, "CL-LANGBIANG", "Trần Thị Bình", str(OFFICER))
    worker = TelegramUser(fake_telegram, WORKER)
    await register_interest(worker)
    code, pin, before, after = await file_anonymous_report(fake_telegram, worker)
    officer = TelegramUser(fake_telegram, OFFICER)
    await officer.press("Trả lời")
    await officer.say("Công đoàn đã nhận, sẽ làm việc với công ty trong tuần này.", replies=2)
    assert "Công đoàn đã nhận" in fake_telegram.sent(WORKER)[-1]["text"]
    await worker.say("/xoadulieu")
    await worker.press("Xoá dữ liệu của tôi")
    await bot.runtime.settle()

    tables = await every_row(sessions)
    async with sessions() as session:
        case = (await session.scalars(select(Case).where(Case.code == code))).one()
    leaks = []
    for name, rows in tables.items():
        for row in rows:
            shown = " ".join(text_of(v) for v in row.values())
            for secret in (str(WORKER), pin, PHONE):
                if secret in shown:
                    leaks.append(f"{name} holds {secret!r}: {row}")
            exact = [m for v in row.values() for m in moments(v) if before <= m <= after]
            if exact:
                leaks.append(f"{name} holds the report's exact moment {exact}: {row}")
    assert leaks == []
    # The case itself stays with the union, answerable by nobody, readable by its officers.
    assert (case.person_id, case.reporter_sealed, case.reporter_tag) == (None, None, None)
    assert tables["people"] == [] or all(
        row["channel_user_id"] != str(WORKER) for row in tables["people"]
    )
    # What was sent to the worker went out, and the outbox keeps neither text nor chat.
    sent = [row for row in tables["outbox"] if row["sent_at"] is not None]
    assert sent and all(row["chat_id"] == "" and row["sealed"] is None for row in sent)


async def test_a_message_waiting_to_be_sent_is_sealed(
    start_bot, fake_telegram, sessions, monkeypatch
):
    """Before delivery the outbox holds a message only sealed (a crash may leave it there)."""
    monkeypatch.setattr(Sender, "queue", lambda self, rows: None)
    monkeypatch.setattr(Sender, "run_scanner", _hang)
    bot = await start_bot()
    await fake_telegram.deliver(fake_telegram.text_update(WORKER, "/start"))
    await bot.runtime.dispatcher.wait_idle()
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    assert (row.text, row.buttons, row.chat_id, row.sent_at) == ("", [], str(WORKER), None)
    assert "Xin chào" in TEST_VAULT.open(row.sealed or b"")


async def _hang(self) -> None:
    await asyncio.Event().wait()


async def test_a_worker_answering_their_anonymous_case_leaves_no_code_beside_their_id(
    start_bot, fake_telegram, sessions
):
    """The worker taps "Trả lời" under the officer's reply and, for now, writes nothing: the
    rows on the worker's side (person, conversation, what the bot showed or keeps to send)
    must not name the anonymous case in clear."""
    bot = await start_bot()
    await add_officer(sessions, "CL-LANGBIANG", "Trần Thị Bình", str(OFFICER))
    worker = TelegramUser(fake_telegram, WORKER)
    code, _pin, _before, _after = await file_anonymous_report(fake_telegram, worker)
    officer = TelegramUser(fake_telegram, OFFICER)
    await officer.press("Trả lời")
    await officer.say("Bạn cho biết thêm tên phân xưởng nhé.", replies=2)
    await worker.press("Trả lời")
    assert code in fake_telegram.sent(WORKER)[-1]["text"]  # the bot says which case
    await bot.runtime.settle()

    case_side = {"cases", "case_messages", "audit_log", "evidence", "case_counters"}
    leaks = [
        f"{name}: {row}"
        for name, rows in (await every_row(sessions)).items()
        if name not in case_side
        for row in rows
        if code in " ".join(text_of(v) for v in row.values())
    ]
    assert leaks == []
