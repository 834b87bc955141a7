"""People who write to the bot, one row per channel identity. No names are stored."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.localtime import start_of_day
from storage.models import Conversation, OutboxItem, Person


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
        created_at=start_of_day(now),
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


async def with_sealed(session: AsyncSession) -> list[Person]:
    """People with something sealed: a phone number, or their list of anonymous cases."""
    query = select(Person).where(
        or_(Person.phone_encrypted.is_not(None), Person.cases_sealed.is_not(None))
    )
    return list(await session.scalars(query))


async def delete_person(session: AsyncSession, person_id: int) -> None:
    """Remove the person and their conversation row (erasure). Their cases must already be
    detached (storage/cases.py detach); outbox rows still to be sent stay, without the link."""
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))
    await session.execute(
        update(OutboxItem).where(OutboxItem.person_id == person_id).values(person_id=None)
    )
    await session.execute(delete(Person).where(Person.id == person_id))
