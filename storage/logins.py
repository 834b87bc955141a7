"""Wrong dashboard passwords in a row per login name (its keyed hash), in the database so that
every process counts the same tries; bot/web/auth.py decides how long each makes one wait."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.db import rows_changed
from storage.models import LoginFailure


async def failures(session: AsyncSession, name_tag: str) -> tuple[int, datetime] | None:
    """How many wrong passwords in a row this name has had, and when the last was."""
    found = (
        await session.execute(
            select(LoginFailure.failures, LoginFailure.last_at).where(
                LoginFailure.name_tag == name_tag
            )
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def count_try(
    session: AsyncSession, name_tag: str, seen: int | None, count: int, now: datetime
) -> bool:
    """Set the name's wrong passwords to `count` (a try counts as one unless it succeeds), if
    they are still the `seen` ones (None: no row yet): False when another request, in this
    process or another, counted one first. The row stays locked until the caller commits, so
    a try sent side by side waits for this one and then finds the count moved."""
    if seen is None:
        result = await session.execute(
            dialect.insert(session, LoginFailure)
            .values(name_tag=name_tag, failures=count, last_at=now)
            .on_conflict_do_nothing(index_elements=["name_tag"])
        )
    else:
        result = await session.execute(
            update(LoginFailure)
            .where(LoginFailure.name_tag == name_tag, LoginFailure.failures == seen)
            .values(failures=count, last_at=now)
        )
    return rows_changed(result) == 1


async def forget(session: AsyncSession, name_tag: str) -> None:
    """The name logged in: it starts afresh."""
    await session.execute(delete(LoginFailure).where(LoginFailure.name_tag == name_tag))


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Names whose last wrong password is older than `before` start afresh; how many."""
    result = await session.execute(delete(LoginFailure).where(LoginFailure.last_at < before))
    return rows_changed(result)
