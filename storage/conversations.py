"""Conversation state: where each person is in the dialogue, kept in the database so a
form survives restarts and days of silence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def load(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """The person's state; empty when they have none."""
    row = await session.get(Conversation, person_id)
    return dict(row.state) if row is not None else {}


async def save(session: AsyncSession, person_id: int, state: dict[str, Any], now: datetime) -> None:
    row = await session.get(Conversation, person_id)
    if row is None:
        session.add(Conversation(person_id=person_id, state=dict(state), updated_at=now))
    else:
        row.state = dict(state)
        row.updated_at = now
