"""Outreach links (a poster's QR code) and the monthly counts of the membership funnel's first
steps: people who arrived, and people who asked a question. Counts only: nothing here says
who arrived. The later steps are counted from the membership cases (storage/statistics.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import later
from storage.dialect import insert
from storage.models import Case, OutreachCount, OutreachLink
from storage.statistics import month_of

EVERYONE = 0  # the link_id of the counts of everyone, whichever way they came


async def add(session: AsyncSession, **fields: object) -> OutreachLink:
    link = OutreachLink(**fields)
    session.add(link)
    await session.flush()
    return link


async def get(session: AsyncSession, link_id: int) -> OutreachLink | None:
    return await session.get(OutreachLink, link_id)


async def by_code(session: AsyncSession, code: str) -> OutreachLink | None:
    """The active link with this code."""
    found = await session.scalars(
        select(OutreachLink).where(OutreachLink.code == code, OutreachLink.active.is_(True))
    )
    return found.first()


async def code_taken(session: AsyncSession, code: str) -> bool:
    found = await session.scalar(select(OutreachLink.id).where(OutreachLink.code == code))
    return found is not None


async def listed(
    session: AsyncSession, unions: Collection[int] | None, limit: int = 200
) -> Sequence[OutreachLink]:
    """The newest links of these unions (None: all)."""
    query = select(OutreachLink).order_by(OutreachLink.id.desc()).limit(limit)
    if unions is not None:
        query = query.where(OutreachLink.union_id.in_(sorted(unions)))
    return (await session.scalars(query)).all()


async def count(session: AsyncSession, link_id: int, step: str, now: datetime) -> None:
    """One more person took `step` this month, through `link_id` (EVERYONE: at all). An
    upsert, so two processes counting at once both count; written as the transaction
    commits (every arrival counts on one row: `db.later`)."""
    statement = insert(session, OutreachCount).values(
        month=month_of(now), link_id=link_id, step=step, count=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["month", "link_id", "step"],
        set_={"count": OutreachCount.count + 1},
    )
    key = ("outreach_counts", month_of(now), f"{link_id:012d}", step)
    later(session, key, lambda sync: _run(sync, statement))


def _run(sync: Session, statement: Any) -> None:
    sync.execute(statement)


@dataclass(frozen=True, slots=True)
class Counted:
    month: str
    link_id: int
    step: str
    count: int


async def counts(session: AsyncSession, link_ids: Collection[int] | None) -> list[Counted]:
    """The monthly counts of these links (EVERYONE included when asked for; None: all)."""
    query = select(OutreachCount)
    if link_ids is not None:
        query = query.where(OutreachCount.link_id.in_(sorted(link_ids)))
    return [
        Counted(row.month, row.link_id, row.step, row.count) for row in await session.scalars(query)
    ]


async def arrivals(session: AsyncSession, link_ids: Collection[int]) -> dict[int, int]:
    """Everyone who arrived through each link, all months together."""
    if not link_ids:
        return {}
    rows = await session.execute(
        select(OutreachCount.link_id, func.sum(OutreachCount.count))
        .where(OutreachCount.link_id.in_(sorted(link_ids)), OutreachCount.step == "arrival")
        .group_by(OutreachCount.link_id)
    )
    return {link_id: int(total) for link_id, total in rows}


@dataclass(frozen=True, slots=True)
class Interest:
    """A membership request as the funnel reads it: when it was filed, first answered, and
    the worker admitted (any of the last two None when not yet)."""

    link_id: int | None
    union_id: int
    filed: datetime
    answered: datetime | None
    details: dict[str, object]


async def interests(
    session: AsyncSession, where: ColumnElement[bool], link_ids: Collection[int] | None = None
) -> list[Interest]:
    """The membership requests the condition `where` selects (the reader's access), only
    those that came through these links when given."""
    query = select(
        Case.outreach_link_id, Case.union_id, Case.created_at, Case.first_response_at,
        Case.details,
    ).where(Case.kind == "membership", where)  # fmt: skip
    if link_ids is not None:
        query = query.where(Case.outreach_link_id.in_(sorted(link_ids)))
    return [
        Interest(link_id, union_id, filed, answered, dict(details or {}))
        for link_id, union_id, filed, answered, details in await session.execute(query)
    ]
