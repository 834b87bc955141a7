"""Nothing a worker sends is lost: crashes before processing and before sending, on both
databases. A "crash" here is a process whose inbox worker or sender stops in the middle and
is torn down; the next process must finish the work exactly once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.outbox import Sender
from storage.models import Case, InboxItem, OutboxItem
from tests.support import count


@pytest.fixture(autouse=True)
def short_grace(monkeypatch):
    monkeypatch.setattr("bot.app.SHUTDOWN_GRACE_SECONDS", 0.3)


async def _hang(*args, **kwargs):
    await asyncio.Event().wait()


async def test_an_update_stored_but_not_processed_is_processed_once_after_restart(
    start_bot, fake_telegram, sessions, monkeypatch
):
    fake = fake_telegram
    # First life: a person writes a message for an officer; the worker dies on the last one.
    first = await start_bot()
    for update in (
        fake.text_update(601, "/start"),
        fake.button_update(601, "q:offer:report"),
        fake.button_update(601, "q:write:report"),
    ):
        await fake.deliver(update)
        await first.runtime.settle()
    monkeypatch.setattr(Dispatcher, "process_pending", _hang)
    last = fake.text_update(601, "Xưởng may không trả lương tháng 10")
    status, _ = await fake.deliver(last)
    assert status == 200  # acknowledged: it is in the inbox
    await first.stop()
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 1
    assert await count(sessions, Case) == 0
    replies_before = len(fake.sent(601))

    # Second life: it is processed, once.
    monkeypatch.undo()
    monkeypatch.setattr("bot.app.SHUTDOWN_GRACE_SECONDS", 0.3)
    second = await start_bot()
    await fake.wait_for("sendMessage", replies_before + 1)
    await second.runtime.settle()
    await second.stop()

    # Third life: nothing left to do.
    third = await start_bot()
    await third.runtime.settle()
    await asyncio.sleep(0.2)
    await third.runtime.settle()

    assert len(fake.sent(601)) == replies_before + 1
    assert "Mã hồ sơ" in fake.sent(601)[-1]["text"]
    assert await count(sessions, Case) == 1
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 0


async def test_a_reply_committed_but_not_sent_is_sent_after_restart(
    start_bot, fake_telegram, sessions, monkeypatch
):
    fake = fake_telegram
    monkeypatch.setattr(Sender, "queue", lambda self, rows: None)
    monkeypatch.setattr(Sender, "run_scanner", _hang)
    first = await start_bot()
    await fake.deliver(fake.text_update(602, "/start"))
    await first.runtime.dispatcher.wait_idle()
    await first.stop()
    assert fake.sent(602) == []
    async with sessions() as session:
        row = (await session.scalars(select(OutboxItem))).one()
    assert row.sent_at is None

    monkeypatch.undo()
    monkeypatch.setattr("bot.app.SHUTDOWN_GRACE_SECONDS", 0.3)
    monkeypatch.setattr("bot.outbox.SCAN_SECONDS", 0.05)
    second = await start_bot()
    await fake.wait_for("sendMessage", 1)
    await asyncio.sleep(0.3)  # several scans: none may send it again
    await second.runtime.settle()
    assert len(fake.sent(602)) == 1
    assert await count(sessions, OutboxItem, OutboxItem.sent_at.is_(None)) == 0


async def test_a_failing_update_does_not_block_the_others_and_the_person_is_told(
    start_bot, fake_telegram, sessions, monkeypatch, caplog
):
    from handlers import registry

    async def broken(ctx, msg):
        # An exception message that quotes what the worker wrote must not reach the logs.
        raise RuntimeError(f"cannot handle {msg.text!r}")

    monkeypatch.setattr("bot.dispatch.RETRY_PAUSE_SECONDS", 0.01)
    monkeypatch.setattr(registry, "FALLBACK", broken)
    bot = await start_bot()
    fake = fake_telegram
    await fake.deliver(fake.text_update(603, "/start"))
    await fake.deliver(fake.text_update(603, "Tôi là Nguyễn Thị Lan, 0912345678"))
    await fake.deliver(fake.text_update(604, "/start"))
    await bot.runtime.settle()
    await fake.wait_for("sendMessage", 3)
    await bot.runtime.settle()

    texts_603 = [m["text"] for m in fake.sent(603)]
    assert texts_603[0].startswith("Xin chào")
    assert texts_603[-1].startswith("Xin lỗi, có lỗi")
    assert fake.sent(604)[0]["text"].startswith("Xin chào")
    assert await count(sessions, InboxItem, InboxItem.status == "failed") == 1
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 0
    assert "RuntimeError" in caplog.text
    assert "0912345678" not in caplog.text
    assert "Lan" not in caplog.text


async def test_an_apology_that_cannot_be_written_does_not_jam_the_inbox(
    start_bot, fake_telegram, sessions, monkeypatch
):
    from handlers import registry

    async def broken(ctx, msg):
        raise RuntimeError("cannot handle this")

    async def unwritable(self, session, channel, payload):
        raise RuntimeError("the apology cannot be written either")

    monkeypatch.setattr("bot.dispatch.RETRY_PAUSE_SECONDS", 0.01)
    monkeypatch.setattr(registry, "FALLBACK", broken)
    monkeypatch.setattr(Dispatcher, "_apology", unwritable)
    bot = await start_bot()
    fake = fake_telegram
    await fake.deliver(fake.text_update(605, "/start"))
    await fake.deliver(fake.text_update(605, "một câu hỏi"))
    await fake.deliver(fake.text_update(606, "/start"))
    await fake.wait_for("sendMessage", 2)
    await bot.runtime.settle()

    # Given up without the apology; the other person was answered all the same.
    assert fake.sent(606)[0]["text"].startswith("Xin chào")
    assert await count(sessions, InboxItem, InboxItem.status == "failed") == 1
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 0
