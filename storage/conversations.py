"""Conversation state: where each person is in the dialogue, kept in the database so a
form survives restarts and days of silence."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.localtime import start_of_day
from storage.models import Conversation, Person

# Rows looked at by one run of the janitor (bot/retention.py): the next run takes the rest.
DUE_BATCH = 200


async def rows(session: AsyncSession, person_ids: Collection[int]) -> dict[int, Conversation]:
    """The conversation rows of these people, by person id (one query)."""
    if not person_ids:
        return {}
    found = await session.scalars(
        select(Conversation).where(Conversation.person_id.in_(list(person_ids)))
    )
    return {row.person_id: row for row in found}


async def of_people(
    session: AsyncSession, identities: Collection[tuple[str, str]]
) -> tuple[dict[tuple[str, str], Person], dict[int, Conversation]]:
    """People by (channel, channel user id), and their conversation rows by person id: in
    one query (the inbox worker's batch needs both, and each round trip counts there)."""
    if not identities:
        return {}, {}
    found = await session.execute(
        select(Person, Conversation)
        .outerjoin(Conversation, Conversation.person_id == Person.id)
        .where(tuple_(Person.channel, Person.channel_user_id).in_(list(identities)))
    )
    people: dict[tuple[str, str], Person] = {}
    rows: dict[int, Conversation] = {}
    for person, row in found:
        people[(person.channel, person.channel_user_id)] = person
        if row is not None:
            rows[person.id] = row
    return people, rows


def put(
    session: AsyncSession,
    known: dict[int, Conversation],
    person_id: int,
    state: dict[str, Any],
    now: datetime,
) -> None:
    """Write a person's state into their row (added to `known` if it is new). The day only:
    an exact time would match the moment a case they filed anonymously was opened."""
    row = known.get(person_id)
    if row is None:
        row = known[person_id] = Conversation(
            person_id=person_id, state=dict(state), updated_at=start_of_day(now), version=1
        )
        session.add(row)
    else:
        row.state = dict(state)
        row.updated_at = start_of_day(now)
        row.version = (row.version or 0) + 1


async def sealed(session: AsyncSession) -> Sequence[Conversation]:
    """Rows whose state holds sealed personal parts (bot/services/drafts.py): for rotation."""
    rows = await session.scalars(select(Conversation))
    return [row for row in rows if isinstance(row.state, dict) and "sealed" in row.state]


async def load(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """The person's state; empty when they have none."""
    row = (await rows(session, [person_id])).get(person_id)
    return dict(row.state) if row is not None else {}


async def due(
    session: AsyncSession,
    deadlines: Sequence[tuple[str, ...]],
    now: datetime,
    untouched_before: datetime,
    limit: int = DUE_BATCH,
) -> Sequence[Conversation]:
    """At most `limit` rows whose state holds a deadline that has passed (an ISO time in UTC
    at one of these key paths, as handlers/registry.py says where), or that nobody touched
    since `untouched_before`."""
    # Compared to the second as text ("2026-11-25T09:30:00"), the same way on both
    # databases; the caller decides on the exact time.
    second = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    passed = [
        func.substr(Conversation.state[path].as_string(), 1, 19) < second for path in deadlines
    ]
    stmt = (
        select(Conversation)
        .where(or_(Conversation.updated_at < untouched_before, *passed))
        .order_by(Conversation.person_id)
        .limit(limit)
        # Locked until the caller commits (PostgreSQL; SQLite's write gate serialises): the
        # person's own message waits rather than being overwritten. updated_at alone cannot
        # tell, as it holds only the day.
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(stmt)).all()


async def rewrite(
    session: AsyncSession, row: Conversation, state: Mapping[str, Any], now: datetime
) -> bool:
    """Replace the state of a row read earlier (an empty state deletes the row), unless the
    row changed since: the person wrote meanwhile, and their own message decides. Whether
    it was written."""
    # updated_at holds only the day; the version counts every write.
    unchanged = and_(Conversation.person_id == row.person_id, Conversation.version == row.version)
    if state:
        stmt = (
            update(Conversation)
            .where(unchanged)
            .values(state=dict(state), updated_at=start_of_day(now), version=row.version + 1)
        )
        result = await session.execute(stmt.execution_options(synchronize_session=False))
    else:
        result = await session.execute(
            delete(Conversation).where(unchanged).execution_options(synchronize_session=False)
        )
    return rows_changed(result) == 1
