"""The sender's sent marks, on both databases: a mark that cannot be committed is kept and
tried again, never turned into a second send; with other processes on the database, each
send's mark is committed before the next message to its chat goes out, and one waiting
behind a dead process's message goes after it; and the leader does not take a process for
dead because the database was away."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from bot import outbox as outbox_module
from bot.channels.base import Delivery
from bot.leadership import Leadership
from bot.outbox import Sender
from handlers.types import Address, Outgoing
from storage import db
from storage import outbox as rows
from storage.models import OutboxItem


class Messenger:
    """Takes every message; `marked` says, at each send, which earlier ones were marked."""

    name = "telegram"
    keeps_history = False

    def __init__(self, database: db.Database) -> None:
        self.database = database
        self.sent: list[str] = []
        self.marked_before: list[list[bool]] = []

    async def send(self, delivery: Delivery) -> None:
        async with self.database.sessions() as session:
            earlier = [await session.get(OutboxItem, i) for i in range(1, delivery.id)]
        self.marked_before.append([row.sent_at is not None for row in earlier if row])
        await asyncio.sleep(0)
        self.sent.append(delivery.text)


async def write(sender: Sender, *texts: str, chat: str = "55") -> None:
    async with sender.work() as work:
        work.send([Outgoing(Address("telegram", chat), text) for text in texts])


async def sends_done(sender: Sender) -> None:
    while sender._tasks:
        await asyncio.gather(*sender._tasks)


async def test_a_mark_that_cannot_be_committed_is_tried_again_not_sent_again(
    database, dispatcher, monkeypatch
):
    messenger = Messenger(database)
    sender = Sender(database, dispatcher.services, {"telegram": messenger})
    marking = rows.mark_sent
    failures = [ConnectionRefusedError("the database is away")]

    async def away_once(*args, **kwargs):
        if failures:
            raise failures.pop()
        await marking(*args, **kwargs)

    monkeypatch.setattr(rows, "mark_sent", away_once)
    await write(sender, "Chào bạn")
    await sends_done(sender)
    await sender.flush()  # on SQLite the flusher's turn; on PostgreSQL it failed already
    assert not failures
    # The messenger has it: a scan must not take it for unsent.
    assert await sender.scan() == 0
    await sends_done(sender)
    await sender.flush()
    await asyncio.wait_for(sender.wait_idle(), 5)
    assert await sender.scan() == 0
    assert messenger.sent == ["Chào bạn"]
    async with database.sessions() as session:
        assert (await session.get(OutboxItem, 1)).sent_at is not None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_with_other_processes_a_chat_gets_its_next_message_once_the_last_is_marked(
    database, dispatcher
):
    messenger = Messenger(database)
    sender = Sender(database, dispatcher.services, {"telegram": messenger})
    await write(sender, "một", "hai", "ba")
    await sends_done(sender)
    assert messenger.sent == ["một", "hai", "ba"]
    # After a crash at most the one message in flight to a chat would go twice.
    assert messenger.marked_before == [[], [True], [True, True]]


async def behind_a_dead_process(database, dispatcher) -> tuple[Messenger, Sender]:
    """A process that wrote "một" and died before sending it (it holds no lease), and the
    leader that takes its messages over, sending to the returned messenger."""
    messenger = Messenger(database)
    dead = Sender(database, dispatcher.services, {}, owner="dead")
    await write(dead, "một")
    leader = Sender(database, dispatcher.services, {"telegram": messenger}, owner="leader")
    return messenger, leader


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_message_waiting_behind_a_dead_process_s_goes_after_it_once_taken_over(
    database, dispatcher, monkeypatch
):
    messenger, leader = await behind_a_dead_process(database, dispatcher)
    claiming = rows.claim_due

    async def seen_before_queued(session, *args, **kwargs):
        # The takeover is committed, and so visible, a while before the scan queues it.
        taken = await claiming(session, *args, **kwargs)
        await session.commit()
        await asyncio.sleep(0.2)
        return taken

    monkeypatch.setattr(rows, "claim_due", seen_before_queued)
    await write(leader, "hai")  # waits for the dead process's "một"
    await asyncio.sleep(0.05)
    assert messenger.sent == []
    await leader.scan()
    await asyncio.wait_for(leader.wait_idle(), 5)
    await leader.scan()  # "hai", waiting here for its turn or sent, is not taken again
    await asyncio.wait_for(leader.wait_idle(), 5)
    assert messenger.sent == ["một", "hai"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_scan_does_not_send_again_what_waits_for_its_turn(
    database, dispatcher, monkeypatch
):
    messenger, leader = await behind_a_dead_process(database, dispatcher)
    # The waiting message looks again only well after the scan's sends are done.
    monkeypatch.setattr(outbox_module, "TURN_POLL_SECONDS", 0.5)
    await write(leader, "hai")  # waits for the dead process's "một"
    await leader.scan()  # takes "một" over, and "hai" after it, off its wait
    await asyncio.wait_for(leader.wait_idle(), 5)
    assert messenger.sent == ["một", "hai"]


async def test_a_lease_run_out_while_the_database_was_away_is_not_taken_for_a_death(database):
    leadership = Leadership(database, "me", 0.3, {"nap": partial(asyncio.sleep, 60)})
    await leadership.renew()
    assert leadership.leading
    assert leadership.steady  # a process that starts takes a lease run out for a death
    away = db.Database.open("postgresql+asyncpg://nobody@127.0.0.1:1/gone")
    leadership.db = away
    try:
        await leadership.renew()
    finally:
        await away.close()
    assert not leadership.steady
    leadership.db = database
    await leadership.renew()
    assert not leadership.steady  # back, but the others may not have renewed yet
    await asyncio.sleep(0.3)
    await leadership.renew()
    assert leadership.steady
    await leadership.end()
