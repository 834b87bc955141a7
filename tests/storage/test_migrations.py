"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import db
from storage.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def _empty(engine: AsyncEngine) -> None:
    """Drop everything so the test starts from an empty database, not the template."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: db.command.downgrade(_config(engine, c), "base"))


def _config(engine: AsyncEngine, connection: Connection) -> db.Config:
    config = db.alembic_config(engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    return config


async def test_upgrade_from_empty_to_head_has_no_drift(engine: AsyncEngine) -> None:
    await _empty(engine)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert set(tables) <= {"alembic_version"}
    assert not await db.is_current(engine)

    await db.upgrade(engine)

    assert await db.is_current(engine)
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        diff = await conn.run_sync(_diff)
    assert set(Base.metadata.tables) <= tables
    assert diff == []


async def test_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    await db.upgrade(engine)
    await db.upgrade(engine)
    assert await db.is_current(engine)


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()
    assert (mode, timeout) == ("wal", db.SQLITE_BUSY_TIMEOUT_MS)
