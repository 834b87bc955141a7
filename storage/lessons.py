"""Wordings officers taught the FAQ matcher: stored, listed by language, and a mark that
changes whenever they do (each process retrains when it sees a new one)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import insert
from storage.models import Lesson

MAX_TEXT = 500


async def add(
    session: AsyncSession, *, language: str, text: str, topic: str, officer_id: int | None,
    now: datetime,
) -> None:  # fmt: skip
    """Teach one wording; the same wording taught again takes the newer topic."""
    stmt = insert(session, Lesson).values(
        language=language, text=text[:MAX_TEXT], topic=topic, taught_by=officer_id, taught_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["language", "text"],
        set_={"topic": topic, "taught_by": officer_id, "taught_at": now},
    )
    await session.execute(stmt)


async def by_language(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    """Every lesson as (text, topic), by language, oldest first."""
    rows = await session.execute(
        select(Lesson.language, Lesson.text, Lesson.topic).order_by(Lesson.id)
    )
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for language, text, topic in rows:
        found[language].append((text, topic))
    return dict(found)


async def mark(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many lessons there are and when the last was taught: any change changes it."""
    count, last = (
        await session.execute(select(func.count(Lesson.id), func.max(Lesson.taught_at)))
    ).one()
    return int(count or 0), last
