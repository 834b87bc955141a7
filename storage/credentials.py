"""A messenger's API tokens, sealed by the caller, and the lease that lets one process at a
time refresh them (bot/channels/zalo.py). The lease is a row update that only succeeds when
nobody holds it, so it works the same on SQLite and PostgreSQL and outlives nothing: it ends
by itself at `lease_until`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.db import rows_changed
from storage.models import Credential


async def get(session: AsyncSession, name: str) -> Credential | None:
    """The row as it is now in the database (not a copy another query cached)."""
    return await session.get(Credential, name, populate_existing=True)


async def seed(
    session: AsyncSession,
    name: str,
    access: bytes | None,
    refresh: bytes | None,
    expires_at: datetime | None,
    now: datetime,
) -> Credential:
    """The row, created with this pair if there was none (the first start; two processes
    starting at once create it once)."""
    await session.execute(
        dialect.insert(session, Credential)
        .values(
            name=name,
            access_sealed=access,
            refresh_sealed=refresh,
            access_expires_at=expires_at,
            refreshed_at=now,
            version=0,
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    found = await get(session, name)
    assert found is not None
    return found


async def take_lease(
    session: AsyncSession, name: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Hold the refresh lease until `until`, if nobody else holds it now."""
    result = await session.execute(
        update(Credential)
        .where(
            Credential.name == name,
            or_(
                Credential.lease_until.is_(None),
                Credential.lease_until <= now,
                Credential.lease_owner == owner,
            ),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return rows_changed(result) == 1


async def save(
    session: AsyncSession,
    name: str,
    access: bytes,
    refresh: bytes,
    expires_at: datetime,
    now: datetime,
    owner: str | None = None,
) -> bool:
    """Store a new pair and end the lease, in the caller's transaction; with `owner`, only if
    that owner still holds the lease (else someone else took over: False)."""
    stmt = update(Credential).where(Credential.name == name)
    if owner is not None:
        stmt = stmt.where(Credential.lease_owner == owner)
    result = await session.execute(
        stmt.values(
            access_sealed=access,
            refresh_sealed=refresh,
            access_expires_at=expires_at,
            refreshed_at=now,
            lease_owner=None,
            lease_until=None,
            broken=None,
            broken_at=None,
            version=Credential.version + 1,
        )
    )
    return rows_changed(result) == 1


async def end_lease(session: AsyncSession, name: str, owner: str) -> None:
    await session.execute(
        update(Credential)
        .where(Credential.name == name, Credential.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


async def mark_broken(session: AsyncSession, name: str, reason: str, now: datetime) -> bool:
    """Record that the tokens no longer work and an admin must authorise again; True the
    first time (so the admins are told once)."""
    result = await session.execute(
        update(Credential)
        .where(Credential.name == name, Credential.broken.is_(None))
        .values(broken=reason[:200], broken_at=now, lease_owner=None, lease_until=None)
    )
    return rows_changed(result) == 1


async def rotate(session: AsyncSession, reseal: Callable[[bytes], bytes]) -> int:
    """Re-seal every stored token with the current key; how many rows."""
    rows = (await session.scalars(select(Credential))).all()
    for row in rows:
        row.access_sealed = reseal(row.access_sealed) if row.access_sealed else None
        row.refresh_sealed = reseal(row.refresh_sealed) if row.refresh_sealed else None
    return len(rows)
