"""The claim of pending updates on PostgreSQL (storage/inbox.py), with transactions side by
side as several processes run them: a chat another transaction works on is skipped, and an
update finished while the claim runs is not taken again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from storage import db, inbox, leases
from storage.inbox import NewUpdate
from storage.models import InboxItem

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


async def stored(database: db.Database, *senders: str) -> list[int]:
    """One update from each sender, in this order; their ids."""
    async with database.statement() as executor:
        await inbox.store(
            executor,
            [NewUpdate("telegram", f"u{n}", {"n": n}, s) for n, s in enumerate(senders)],
            NOW,
        )
    async with database.sessions() as session:
        return [p.id for p in await inbox.claim(session, ["telegram"])]


async def test_a_chat_another_transaction_works_on_is_skipped(db_url: str) -> None:
    database = db.Database.open(db_url)
    try:
        x1, y1, x2 = await stored(database, "x", "y", "x")
        async with database.sessions() as first, database.sessions() as second:
            assert [p.id for p in await inbox.claim(first, ["telegram"], limit=1)] == [x1]
            # x is the first's until it commits: the second takes y only, not x's next.
            assert [p.id for p in await inbox.claim(second, ["telegram"])] == [y1]
            await inbox.finish(first, [x1], NOW)
            await first.commit()
            await inbox.finish(second, [y1], NOW)
            await second.commit()
        async with database.sessions() as third:
            assert [p.id for p in await inbox.claim(third, ["telegram"])] == [x2]
    finally:
        await database.close()


async def test_an_update_finished_while_the_claim_waits_is_not_taken(db_url: str) -> None:
    """The claim's snapshot is older than its locks: a row that a transaction committing
    meanwhile finished is read again (FOR UPDATE) and left out, not handled a second time."""
    database = db.Database.open(db_url)
    try:
        x1, y1, x2 = await stored(database, "x", "y", "x")
        async with database.sessions() as finishing, database.sessions() as claiming:
            done = update(InboxItem).where(InboxItem.id == x1).values(status="done", chat=None)
            await finishing.execute(done)
            claim = asyncio.create_task(inbox.claim(claiming, ["telegram"]))
            await asyncio.sleep(0.3)
            assert not claim.done()  # waiting for the row the other transaction changes
            await finishing.commit()
            assert [p.id for p in await asyncio.wait_for(claim, 10)] == [y1, x2]
    finally:
        await database.close()


async def test_a_claim_takes_its_share_of_the_waiting_chats(db_url: str) -> None:
    """With two processes alive each claim takes half of the waiting chats (rounded up), the
    oldest it can lock: the other process finds the rest, not a queue one process holds."""
    database = db.Database.open(db_url)
    try:
        a1, b1, c1, d1, e1, a2 = await stored(database, "a", "b", "c", "d", "e", "a")
        async with database.sessions() as session:
            alive = datetime.now(UTC) + timedelta(minutes=5)
            for name in ("one", "two"):
                assert await leases.take(session, f"{leases.PROCESS}{name}", name, NOW, alive)
            await session.commit()
        async with database.sessions() as first, database.sessions() as second:
            assert [p.id for p in await inbox.claim(first, ["telegram"])] == [a1, b1, c1, a2]
            assert [p.id for p in await inbox.claim(second, ["telegram"])] == [d1, e1]
    finally:
        await database.close()
