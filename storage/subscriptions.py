"""What each worker chose to receive (broadcasts): one row per person and topic."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.dialect import insert
from storage.localtime import start_of_day
from storage.models import Subscription


async def topics(session: AsyncSession, person_id: int) -> set[str]:
    """The topics a person receives."""
    found = await session.scalars(
        select(Subscription.topic).where(Subscription.person_id == person_id)
    )
    return set(found)


async def subscribe(
    session: AsyncSession, person_id: int, chosen: Collection[str], now: datetime
) -> None:
    """Add topics (those already chosen stay as they are)."""
    if not chosen:
        return
    rows = [
        {"person_id": person_id, "topic": topic, "created_at": start_of_day(now)}
        for topic in sorted(chosen)
    ]
    await session.execute(insert(session, Subscription).values(rows).on_conflict_do_nothing())


async def unsubscribe(
    session: AsyncSession, person_id: int, chosen: Collection[str] | None = None
) -> int:
    """Remove these topics (None: all of them); how many were removed."""
    statement = delete(Subscription).where(Subscription.person_id == person_id)
    if chosen is not None:
        statement = statement.where(Subscription.topic.in_(sorted(chosen)))
    return rows_changed(await session.execute(statement))
