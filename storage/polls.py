"""Quick polls' answers: one row per poll and respondent, replaced when the worker changes
their answer, with the segment facts kept beside it; counts grouped in the database.

`respondent` is a keyed hash of the poll and the person (bot/services/polls.py), never the
person's id, so the table alone links no answer to anyone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.db import rows_changed
from storage.localtime import start_of_day
from storage.models import Case, PollAnswer, Union, Ward, Workplace

# The segments answers are counted by, each a column of PollAnswer.
SEGMENTS = ("union", "ward", "workplace", "work")
_COLUMNS: dict[str, Any] = {
    "union": PollAnswer.union_id,
    "ward": PollAnswer.ward_id,
    "workplace": PollAnswer.workplace_id,
    "work": PollAnswer.work,
}
# Where the names of a segment's ids are.
_NAMED: dict[str, Any] = {"union": Union, "ward": Ward, "workplace": Workplace}


@dataclass(frozen=True, slots=True)
class Segment:
    """What the worker already told the bot, kept beside their answer; None: not known."""

    union_id: int | None = None
    ward_id: int | None = None
    workplace_id: int | None = None
    work: str | None = None


async def record(
    session: AsyncSession,
    broadcast_id: int,
    respondent: str,
    option: int,
    segment: Segment,
    now: datetime,
) -> int | None:
    """Store an answer, replacing this respondent's earlier one; the option they had chosen
    before (None: their first answer)."""
    before = await session.scalar(
        select(PollAnswer.option).where(
            PollAnswer.broadcast_id == broadcast_id, PollAnswer.respondent == respondent
        )
    )
    values = {
        "option": option,
        "union_id": segment.union_id,
        "ward_id": segment.ward_id,
        "workplace_id": segment.workplace_id,
        "work": segment.work,
        "answered_at": start_of_day(now),
    }
    statement = dialect.insert(session, PollAnswer).values(
        broadcast_id=broadcast_id, respondent=respondent, **values
    )
    # An upsert: two presses at once still leave one row, the last one's.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["broadcast_id", "respondent"],
            set_={name: getattr(statement.excluded, name) for name in values},
        )
    )
    return before


async def by_option(session: AsyncSession, broadcast_id: int) -> dict[int, int]:
    """How many answered each option (options nobody chose are absent)."""
    rows = await session.execute(
        select(PollAnswer.option, func.count())
        .where(PollAnswer.broadcast_id == broadcast_id)
        .group_by(PollAnswer.option)
    )
    return {int(option): int(n) for option, n in rows}


async def by_segment(
    session: AsyncSession, broadcast_id: int
) -> dict[str, dict[tuple[int | str | None, int], int]]:
    """Per segment (SEGMENTS): how many answered each option, by the segment's value (an id,
    the kind of work, or None where it is not known)."""
    found: dict[str, dict[tuple[int | str | None, int], int]] = {}
    for segment, column in _COLUMNS.items():
        rows = await session.execute(
            select(column, PollAnswer.option, func.count())
            .where(PollAnswer.broadcast_id == broadcast_id)
            .group_by(column, PollAnswer.option)
        )
        found[segment] = {(value, int(option)): int(n) for value, option, n in rows}
    return found


async def names(session: AsyncSession, segment: str, ids: Collection[int]) -> dict[int, str]:
    """The names of these unions, wards or workplaces (`segment`), by id."""
    model = _NAMED.get(segment)
    if model is None or not ids:
        return {}
    rows = await session.execute(select(model.id, model.name).where(model.id.in_(sorted(ids))))
    return {int(id_): str(name) for id_, name in rows}


async def facts(session: AsyncSession, person_id: int) -> Segment:
    """What a person told the bot in the cases they filed under their name (never an
    anonymous one): the union, ward and workplace of the latest, and as `work` the contract
    answer of the latest membership request (as stored: the caller checks it)."""
    named = (Case.person_id == person_id, Case.anonymous.is_(False))
    newest = (Case.created_at.desc(), Case.id.desc())
    place = select(
        func.coalesce(Case.origin_union_id, Case.union_id), Case.ward_id, Case.workplace_id
    )
    latest = (await session.execute(place.where(*named).order_by(*newest).limit(1))).first()
    joined = (
        await session.execute(
            select(Case.details, Case.category)
            .where(*named, Case.kind == "membership")
            .order_by(*newest)
            .limit(1)
        )
    ).first()
    work: object = None
    if joined is not None:
        details, category = joined
        work = (details or {}).get("contract") or category
    union_id, ward_id, workplace_id = latest if latest is not None else (None, None, None)
    return Segment(union_id, ward_id, workplace_id, work if isinstance(work, str) else None)


async def answered_polls(session: AsyncSession) -> list[int]:
    """The polls with any answer (erasure looks for a person's answers among them)."""
    found = await session.scalars(select(PollAnswer.broadcast_id).distinct())
    return sorted(found)


async def forget(session: AsyncSession, keys: Collection[tuple[int, str]]) -> int:
    """Delete the answers of these (poll, respondent) pairs; how many went."""
    if not keys:
        return 0
    result = await session.execute(
        delete(PollAnswer).where(
            tuple_(PollAnswer.broadcast_id, PollAnswer.respondent).in_(list(keys))
        )
    )
    return rows_changed(result)
