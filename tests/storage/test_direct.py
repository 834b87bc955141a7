"""The hot writes straight through the driver on PostgreSQL (storage/direct.py): the rows are
those SQLAlchemy writes; a connection that failed, or that the server dropped, is not used
again; closing the database closes them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from storage import db, inbox, outbox
from storage.direct import MAX_CONNECTIONS, DirectConnection
from storage.inbox import NewUpdate
from storage.models import InboxItem, OutboxItem
from tests.support import TEST_VAULT

NOW = datetime(2026, 12, 5, 8, 15, 30, 250_000, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def updates(prefix: str) -> list[NewUpdate]:
    return [
        NewUpdate(
            "telegram",
            f"{prefix}-1",
            {"message": {"text": "Lương tháng 11 chưa trả", "from": {"id": 42}}},
            sender="42",
        ),
        NewUpdate(
            "zalo", f"{prefix}-2", {"event_name": "user_send_text", "n": [1, None, "ạ"]}, "7"
        ),
    ]


def outgoing(count: int) -> list[OutboxItem]:
    return [
        outbox.message(
            channel="telegram",
            chat_id="500",
            person_id=None,
            now=NOW,
            sealed=TEST_VAULT.seal('{"text": "Chào bạn", "buttons": []}'),
        )
        for _ in range(count)
    ]


async def test_the_driver_writes_the_rows_sqlalchemy_writes(db_url: str) -> None:
    database = db.Database.open(db_url)
    try:
        async with database.statement() as direct:
            assert isinstance(direct, DirectConnection)
            await inbox.store(direct, updates("direct"), NOW)
            await inbox.store(direct, updates("direct"), NOW)  # redelivered: skipped
        async with database.engine.begin() as core:
            await inbox.store(core, updates("core"), NOW)
        async with database.sessions() as session:
            ids = await outbox.add(session, outgoing(4))
            await session.commit()
        async with database.statement() as direct:
            await outbox.mark_sent(direct, ids[:2], NOW, forget=[ids[1]])
        async with database.engine.begin() as core:
            await outbox.mark_sent(core, ids[2:], NOW, forget=[ids[3]])
        async with database.sessions() as session:
            stored = (await session.scalars(select(InboxItem).order_by(InboxItem.id))).all()
            marked = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    finally:
        await database.close()

    def inbox_row(row: InboxItem) -> tuple[object, ...]:
        return (row.channel, row.external_id.split("-")[1], row.payload, row.status,
                row.attempts, row.received_at, row.chat)  # fmt: skip

    def outbox_row(row: OutboxItem) -> tuple[object, ...]:
        return (row.sent_at, row.chat_id, row.text, row.buttons, row.sealed is None, row.person_id)

    assert len(stored) == 4
    assert [inbox_row(r) for r in stored[:2]] == [inbox_row(r) for r in stored[2:]]
    assert stored[0].payload["message"]["text"] == "Lương tháng 11 chưa trả"
    assert stored[0].received_at == NOW and stored[0].chat
    assert [outbox_row(r) for r in marked[:2]] == [outbox_row(r) for r in marked[2:]]
    assert marked[0].sent_at is not None and marked[0].sealed is not None  # kept
    assert marked[1].sealed is None and marked[1].chat_id == ""  # forgotten


async def test_a_connection_whose_statement_failed_is_not_used_again(db_url: str) -> None:
    database = db.Database.open(db_url)
    try:
        async with database.statement() as direct:
            assert isinstance(direct, DirectConnection)
            first = direct.driver
        with pytest.raises(asyncpg.PostgresError):
            async with database.statement() as direct:
                assert direct.driver is first  # the idle one, reused
                await direct.execute(text("SELECT 1/0"), {})
        assert first.is_closed()
        async with database.statement() as direct:
            assert direct.driver is not first
            await inbox.store(direct, updates("after"), NOW)
        async with database.sessions() as session:
            assert len((await session.scalars(select(InboxItem))).all()) == 2
    finally:
        await database.close()


async def test_connections_the_server_dropped_are_replaced(db_url: str) -> None:
    database = db.Database.open(db_url)
    try:
        async with database.statement() as direct:
            await inbox.store(direct, updates("before"), NOW)
            dropped = direct.driver
        # The server ends every session on this database (as a restart of it would).
        admin = await asyncpg.connect(
            make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        for _ in range(50):
            if dropped.is_closed():
                break
            await asyncio.sleep(0.02)
        async with database.statement() as direct:
            assert direct.driver is not dropped
            await inbox.store(direct, updates("after"), NOW)
    finally:
        await database.close()
    assert dropped.is_closed()


async def test_closing_the_database_closes_its_direct_connections(db_url: str) -> None:
    database = db.Database.open(db_url)
    async with database.statement() as direct:
        await inbox.store(direct, updates("one"), NOW)
        driver = direct.driver
    assert not driver.is_closed()
    await database.close()
    assert driver.is_closed()


async def test_no_more_than_a_few_direct_connections_are_open_at_once(db_url: str) -> None:
    database = db.Database.open(db_url)
    release = asyncio.Event()
    drivers: list[object] = []

    async def hold() -> None:
        async with database.statement() as direct:
            assert isinstance(direct, DirectConnection)
            drivers.append(direct.driver)
            await release.wait()

    try:
        holders = [asyncio.create_task(hold()) for _ in range(MAX_CONNECTIONS + 1)]
        await asyncio.sleep(0.5)
        assert len(drivers) == MAX_CONNECTIONS  # the last one waits for a connection
        release.set()
        await asyncio.wait_for(asyncio.gather(*holders), 10)
        assert len(drivers) == MAX_CONNECTIONS + 1
        assert len({id(d) for d in drivers}) == MAX_CONNECTIONS  # it took one given back
    finally:
        await database.close()
