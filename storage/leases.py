"""Leases: something one process holds at a time, until it expires unless renewed.

A duty only one process may perform (bot/leadership.py) is a lease; so is each process's own
liveness, which tells the others whether its unsent messages need taking over
(storage/outbox.py). Plain rows and conditional updates: no session-level state (advisory
locks, LISTEN) that a PgBouncer in transaction mode would break.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from storage.db import rows_changed
from storage.dialect import insert
from storage.models import Lease

TABLE = cast(Table, Lease.__table__)
# A process's liveness lease is named after the process.
PROCESS = "process:"


async def take(
    session: AsyncSession, name: str, holder: str, now: datetime, until: datetime
) -> bool:
    """Hold `name` until `until` if nobody else holds it now (or renew it); whether held.
    The caller commits."""
    created = await session.execute(
        insert(session, TABLE)
        .values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    if rows_changed(created) == 1:
        return True
    # Two processes racing for an expired lease: on PostgreSQL the second waits for the
    # first's row lock, then finds the lease held and changes nothing.
    renewed = await session.execute(
        update(TABLE)
        .where(TABLE.c.name == name, or_(TABLE.c.holder == holder, TABLE.c.expires_at <= now))
        .values(holder=holder, expires_at=until)
    )
    return rows_changed(renewed) == 1


async def give_up(session: AsyncSession, name: str, holder: str, now: datetime) -> None:
    """End `holder`'s lease on `name` now, so another process need not wait for it."""
    await session.execute(
        update(TABLE).where(TABLE.c.name == name, TABLE.c.holder == holder).values(expires_at=now)
    )


def living(now: datetime | ColumnElement[datetime]) -> Select[tuple[str]]:
    """The processes alive now (a time, or the database's clock), as a subquery of their
    identities."""
    return select(TABLE.c.holder).where(
        TABLE.c.name.startswith(PROCESS, autoescape=True), TABLE.c.expires_at > now
    )
