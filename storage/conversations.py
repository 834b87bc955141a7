"""Conversation state: where each person is in the dialogue, kept in the database so a
form survives restarts and days of silence."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.localtime import start_of_day
from storage.models import Conversation


async def rows(session: AsyncSession, person_ids: Collection[int]) -> dict[int, Conversation]:
    """The conversation rows of these people, by person id (one query)."""
    if not person_ids:
        return {}
    found = await session.scalars(
        select(Conversation).where(Conversation.person_id.in_(list(person_ids)))
    )
    return {row.person_id: row for row in found}


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
            person_id=person_id, state=dict(state), updated_at=start_of_day(now)
        )
        session.add(row)
    else:
        row.state = dict(state)
        row.updated_at = start_of_day(now)


async def load(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """The person's state; empty when they have none."""
    row = (await rows(session, [person_id])).get(person_id)
    return dict(row.state) if row is not None else {}
