"""The one place that knows SQLite and PostgreSQL spell some things differently: upserts,
and a commit that need not wait for the disk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, bindparam, func, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.direct import DirectConnection

# What runs statements: a session, or on the hot paths what `Database.statement` gives: a bare
# connection, or on PostgreSQL the driver's own (storage/direct.py).
Executor = AsyncSession | AsyncConnection | DirectConnection


def backend(executor: Executor) -> str:
    """ "postgresql" or "sqlite"."""
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name
    if isinstance(executor, DirectConnection):
        return executor.name
    return executor.get_bind().dialect.name


def _name(executor: Executor | str) -> str:
    return executor if isinstance(executor, str) else backend(executor)


def insert(session: Executor | str, table: Any) -> Any:
    """An INSERT that supports on_conflict_do_nothing / on_conflict_do_update on our backends
    (for an executor, or a backend's name when the statement is built once for all)."""
    if _name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def one_of(session: Executor, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`, on PostgreSQL as `= ANY` of one array: one prepared statement for
    any number of ids, where each length of an IN list is prepared anew on each connection
    (a round trip more, where a statement's every round trip counts)."""
    found: ColumnElement[bool]
    if backend(session) == "postgresql":
        found = column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    else:
        found = column.in_(ids)
    return found


def one_of_given(name: str, column: Any, parameter: str) -> ColumnElement[bool]:
    """`one_of` in a statement built once (on backend `name`): the ids are the value of
    `parameter`, given at each execution."""
    found: ColumnElement[bool]
    if name == "postgresql":
        found = column == any_(bindparam(parameter, type_=postgresql.ARRAY(Integer)))
    else:
        found = column.in_(bindparam(parameter, expanding=True))
    return found


def without_waiting_for_disk(session: Executor | str) -> ColumnElement[bool]:
    """A condition, always true, to add to a write statement's WHERE: it lets the commit of
    the statement's transaction return before PostgreSQL has flushed it to disk
    (synchronous_commit off for this transaction alone: `set_config(..., true)` is SET LOCAL
    as an expression, so PgBouncer's transaction mode keeps nothing of it, and the statement
    may run on its own in autocommit, in one round trip). Only for writes whose loss in a
    crash of the database server costs a repeat, never data: the commit is still atomic, and
    a crash of our process loses nothing. SQLite: nothing changes."""
    if _name(session) == "postgresql":
        return func.set_config("synchronous_commit", "off", True).is_not(None)
    return true()
