"""The one place that knows SQLite and PostgreSQL spell some things differently: upserts,
and a commit that need not wait for the disk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, bindparam, func, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports on_conflict_do_nothing / on_conflict_do_update on our backends."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def one_of(session: AsyncSession, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`, on PostgreSQL as `= ANY` of one array: one prepared statement for
    any number of ids, where each length of an IN list is prepared anew on each connection
    (a round trip more, where a statement's every round trip counts)."""
    found: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        found = column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    else:
        found = column.in_(ids)
    return found


def without_waiting_for_disk(session: AsyncSession) -> ColumnElement[bool]:
    """A condition, always true, to add to a write statement's WHERE: it lets the commit of
    the statement's transaction return before PostgreSQL has flushed it to disk
    (synchronous_commit off for this transaction alone: `set_config(..., true)` is SET LOCAL
    as an expression, so PgBouncer's transaction mode keeps nothing of it, and the statement
    may run on its own in autocommit, in one round trip). Only for writes whose loss in a
    crash of the database server costs a repeat, never data: the commit is still atomic, and
    a crash of our process loses nothing. SQLite: nothing changes."""
    if session.get_bind().dialect.name == "postgresql":
        return func.set_config("synchronous_commit", "off", True).is_not(None)
    return true()
