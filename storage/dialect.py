"""The one place that knows SQLite and PostgreSQL spell some things differently: upserts,
and a commit that need not wait for the disk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports on_conflict_do_nothing / on_conflict_do_update on our backends."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def commit_without_waiting_for_disk(session: AsyncSession) -> None:
    """Let this transaction's commit return before PostgreSQL has flushed it to disk
    (synchronous_commit off, for this transaction alone: SET LOCAL, so PgBouncer's
    transaction mode keeps nothing of it). Only for writes whose loss in a crash of the
    database server costs a repeat, never data: the commit is still atomic, and a crash of
    our process loses nothing. SQLite: nothing changes."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
