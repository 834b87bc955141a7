"""The janitor (bot/retention.py) run as the app runs it: forms left past their expiry go
with their files (the worker is told, as they would be on writing again), web chat visitors
who left nothing go, finished cases lose who filed them after a year; handled updates and
sent messages go after their periods; a period of 0 keeps everything."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.config import Retention
from bot.outbox import Sender, body, seal_body
from bot.retention import Janitor
from bot.services import drafts
from handlers import registry
from handlers.types import Address, Attachment
from storage import inbox, outbox
from storage.inbox import NewUpdate
from storage.models import Case, Conversation, Evidence, InboxItem, OutboxItem, Person
from tests.handlers.conftest import NOW, buttons
from tests.scenarios import MENU, file_report, to_anonymity
from tests.support import TEST_VAULT, count

PHOTO = Attachment("photo", "tg-photo-1", 120_000, "image/jpeg")
EXPIRED = "Phần bạn bắt đầu điền ngày 25/11/2026 chưa xong sau 7 ngày nên mình đã xoá."


def janitor(dispatcher, database, **days: int) -> Janitor:
    settings = dispatcher.services.settings.with_(retention=Retention(**days))
    services = replace(dispatcher.services, settings=settings)
    return Janitor(services, Sender(database, services, {}))


async def state_of(sessions, user: str) -> dict | None:
    async with sessions() as session:
        person = await session.scalar(select(Person).where(Person.channel_user_id == user))
        row = await session.get(Conversation, person.id)
        return None if row is None else drafts.open_(TEST_VAULT, row.state)


async def to_name(worker):
    """The joining form, at its first question."""
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    [name] = await worker.press("Tôi đồng ý")
    assert name.text == "Họ tên đầy đủ của bạn là gì?"


async def to_evidence(worker):
    """A report, at the step that takes files, with a photo sent."""
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("nha may sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.say("Công ty nợ lương hai tháng rồi, cả xưởng chưa ai được trả.")
    await worker.press("Từ 1 đến 6 tháng")
    await worker.press("Từ 11 đến 50 người")
    await worker.attach(PHOTO)


async def test_forms_past_their_expiry_go_with_their_files_and_the_worker_is_told(
    talk, dispatcher, database, sessions, clock
):
    first = talk("901")
    await to_evidence(first)
    clock.now = NOW + timedelta(days=2)
    later = talk("902")
    await to_name(later)
    aside = talk("903")
    await to_name(aside)
    await aside.say("/tracuu KN-2026-999999 123456")  # sets the form aside; a wrong PIN
    assert set(await state_of(sessions, "903")) == {"paused"}  # wrong PINs count per case
    clock.now = NOW + timedelta(days=7, minutes=1)
    cleaner = janitor(dispatcher, database)
    assert (await cleaner.run_once()).states == 1
    assert await state_of(sessions, "901") is None  # nothing else was in it
    assert await count(sessions, Evidence) == 0
    async with sessions() as session:
        [told] = (await session.scalars(select(OutboxItem))).all()
    assert (told.channel, told.chat_id) == ("terminal", "901")
    text, keyboard = body(TEST_VAULT, told)  # sealed in the outbox
    assert text.startswith(EXPIRED)
    assert [payload for row in keyboard for _label, payload in row] == MENU
    assert (await state_of(sessions, "902"))["form"] == "membership"  # started later
    assert (await cleaner.run_once()).states == 0  # nothing more to do
    clock.now = NOW + timedelta(days=5)
    await aside.say("/tracuu KN-2026-999999 654321")  # writes again: the state is in use
    [menu] = await first.say("/start")  # no second notice when they come back
    assert not menu.text.startswith(EXPIRED) and buttons(menu) == MENU
    clock.now = NOW + timedelta(days=9, minutes=1)
    assert (await cleaner.run_once()).states == 2
    assert await state_of(sessions, "902") is None
    # The form set aside goes, and nothing else was kept (wrong PINs count on the case).
    assert await state_of(sessions, "903") is None
    assert await count(sessions, OutboxItem) == 3


def test_the_hook_keeps_a_valid_form_and_drops_an_expired_one():
    to = Address("terminal", "900", 1)
    started = {"flow": "form", "form": "membership", "step": "name", "answers": {},
               "expires": (NOW + timedelta(days=7)).isoformat(), "files": [4]}  # fmt: skip
    assert registry.expire_draft(started, NOW + timedelta(days=6), to) is None
    dropped = registry.expire_draft(started, NOW + timedelta(days=7), to)
    assert (dropped.state, dropped.files) == ({}, [4])
    assert dropped.replies[0].text.startswith("The form you started on")
    writing = {"flow": "question", "paused": {**started, "flow": None}}
    dropped = registry.expire_draft(writing, NOW + timedelta(days=8), to)
    assert (dropped.state, dropped.files) == ({"flow": "question"}, [4])
    # A conversation untouched longer than a form lives: nothing in it is needed any more.
    untouched = registry.expire_draft({"draft": "cty nợ lương"}, NOW, to, untouched=True)
    assert (untouched.state, untouched.files, untouched.replies) == ({}, [], [])
    assert registry.expire_draft({"draft": "cty nợ lương"}, NOW, to) is None


async def test_web_visitors_who_left_nothing_are_forgotten(
    talk, dispatcher, database, sessions, clock
):
    await talk("a" * 32, "web").say("/start")
    asker = talk("b" * 32, "web")
    await asker.say("cty no luong 2 thang roi phai lam sao")  # the question is kept a while
    assert "draft" in await state_of(sessions, "b" * 32)
    reporter = talk("c" * 32, "web")
    await to_anonymity(reporter)
    await file_report(reporter)  # anonymous: no person id on the case, only the tag
    await talk("d" * 32, "web").say("/start")
    await talk("e" * 32, "telegram").say("/start")  # only the web chat's visitors go
    cleaner = janitor(dispatcher, database)
    assert (await cleaner.run_once()).visitors == 0  # all came less than a day ago
    clock.now = NOW + timedelta(days=1, minutes=1)
    assert (await cleaner.run_once()).visitors == 2
    assert await people_left(sessions) == {"b" * 32, "c" * 32, "e" * 32}
    clock.now = NOW + timedelta(days=8)
    swept = await cleaner.run_once()
    assert (swept.states, swept.visitors) == (2, 1)  # the question, then the asker
    assert await people_left(sessions) == {"c" * 32, "e" * 32}
    [mine] = await reporter.say("/hoso")
    assert "KN-2026-000001" in mine.text


async def people_left(sessions) -> set[str]:
    async with sessions() as session:
        return set((await session.scalars(select(Person.channel_user_id))).all())


async def old_rows(sessions, clock) -> None:
    """Handled and pending updates, sent and unsent messages on Telegram and in the web chat,
    all written three days before the clock's time."""
    then = clock.now - timedelta(days=3)
    async with sessions() as session:
        await inbox.store(session, [NewUpdate("telegram", str(i), {}) for i in range(3)], then)
        handled = [p.id for p in await inbox.claim(session, ["telegram"])][:2]
        await inbox.finish(session, handled, then)
        for channel, sent in (("telegram", then), ("telegram", None), ("web", then)):
            row = outbox.message(
                channel=channel, chat_id="501", person_id=None, now=then,
                sealed=seal_body(TEST_VAULT, "Chào bạn", []),
            )  # fmt: skip
            [message_id] = await outbox.add(session, [row])
            if sent is not None:
                await outbox.mark_sent(session, [message_id], sent)
        await session.commit()


async def test_handled_updates_and_sent_messages_go_after_their_periods(
    dispatcher, database, sessions, clock
):
    await old_rows(sessions, clock)
    keeping = janitor(dispatcher, database, inbox_days=0, sent_days=0, webchat_days=0)
    swept = await keeping.run_once()
    assert (swept.inbox, swept.sent) == (0, 0)
    assert await count(sessions, InboxItem) == 3 and await count(sessions, OutboxItem) == 3
    swept = await janitor(dispatcher, database).run_once()
    assert (swept.inbox, swept.sent) == (2, 1)
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 1
    # Unsent: stays. In the web chat: kept for its page's history.
    left = (await count(sessions, OutboxItem, OutboxItem.sent_at.is_(None)),
            await count(sessions, OutboxItem, OutboxItem.channel == "web"))  # fmt: skip
    assert left == (1, 1)
    # 29 days and 23½ hours after the day it was sent began (times are kept to the day: it
    # was sent at 09:30 in Đà Lạt, its day began 9½ hours before).
    clock.now += timedelta(days=26, hours=14)
    assert (await janitor(dispatcher, database).run_once()).sent == 0
    clock.now += timedelta(hours=2)
    assert (await janitor(dispatcher, database).run_once()).sent == 1
    assert await count(sessions, OutboxItem) == 1


async def test_a_finished_case_loses_who_filed_it_after_a_year(
    talk, dispatcher, database, sessions, clock
):
    worker = talk("904", "telegram")
    await to_anonymity(worker)
    [receipt, *_alerts] = await file_report(worker)
    pin = receipt.text.split("Mã PIN của bạn: ")[1][:6]
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        case.status, case.closed_at = "resolved", NOW
        await session.commit()
    cleaner = janitor(dispatcher, database, closed_case_days=365)
    clock.now = NOW + timedelta(days=364)
    assert (await cleaner.run_once()).cases == 0
    clock.now = NOW + timedelta(days=366)
    assert (await cleaner.run_once()).cases == 1
    [mine] = await worker.say("/hoso")
    assert "KN-2026-000001" not in mine.text
    [looked_up] = await worker.say(f"/tracuu KN-2026-000001 {pin}")
    assert looked_up.text.startswith("Mã hồ sơ hoặc mã PIN chưa đúng.")
    async with sessions() as session:
        kept = await session.get(Case, case.id)
    assert (kept.code, kept.kind, kept.status) == ("KN-2026-000001", "grievance", "resolved")
    assert (kept.reporter_sealed, kept.reporter_tag, kept.pin_tag) == (None, None, None)


def test_an_untouched_conversation_keeps_what_is_meant_to_last(monkeypatch):
    """Only flows and what lasts a day or a form's life go: a key another feature keeps for
    good (in LASTING_STATE) is not the janitor's to drop."""
    monkeypatch.setattr(registry, "LASTING_STATE", (*registry.LASTING_STATE, "kept"))
    to = Address("terminal", "900", 1)
    state = {"flow": "question", "topic": "wages", "pin_failures": [NOW.isoformat()], "kept": 1}
    untouched = registry.expire_draft(state, NOW, to, untouched=True)
    assert untouched.state == {"kept": 1}
