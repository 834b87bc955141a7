"""People who write to the bot, one row per channel identity. No names are stored."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person


async def find(session: AsyncSession, channel: str, channel_user_id: str) -> Person | None:
    return await session.scalar(
        select(Person).where(Person.channel == channel, Person.channel_user_id == channel_user_id)
    )


async def find_many(
    session: AsyncSession, identities: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Person]:
    """People by (channel, channel user id), in one query."""
    if not identities:
        return {}
    found = await session.scalars(
        select(Person).where(tuple_(Person.channel, Person.channel_user_id).in_(list(identities)))
    )
    return {(p.channel, p.channel_user_id): p for p in found}


async def create(
    session: AsyncSession, channel: str, channel_user_id: str, language: str, now: datetime
) -> Person:
    person = Person(
        channel=channel,
        channel_user_id=channel_user_id,
        language=language,
        blocked=False,
        created_at=now,
    )
    session.add(person)
    await session.flush()
    return person


def erase_personal(person: Person) -> list[str]:
    """Clear the person's personal fields; the names of those that held something."""
    held = [name for name in ("phone_encrypted", "consent_at") if getattr(person, name)]
    person.phone_encrypted = None
    person.consent_at = None
    return held


async def with_phone(session: AsyncSession) -> list[Person]:
    """People whose phone number is kept (sealed)."""
    return list(await session.scalars(select(Person).where(Person.phone_encrypted.is_not(None))))
