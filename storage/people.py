"""People who write to the bot, one row per channel identity. No names are stored."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import broadcasts, outreach, promotions
from storage.db import rows_changed
from storage.localtime import start_of_day
from storage.models import Case, Conversation, OutboxItem, Person, ShownChoices

# People deleted by one run of the janitor (bot/retention.py): the next run takes the rest.
FORGET_BATCH = 500


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
    # The funnel's first step, for everyone: counted here, as nothing else outlives erasure.
    await outreach.count(session, outreach.EVERYONE, "arrival", now)
    return person


def erase_personal(person: Person) -> list[str]:
    """Clear the person's personal fields; the names of those that held something."""
    held = [name for name in ("phone_encrypted", "consent_at") if getattr(person, name)]
    person.phone_encrypted = None
    person.consent_at = None
    return held


async def with_sealed(session: AsyncSession) -> list[Person]:
    """People with something sealed: a phone number, their list of anonymous cases, when
    they last wrote."""
    query = select(Person).where(
        or_(
            Person.phone_encrypted.is_not(None),
            Person.cases_sealed.is_not(None),
            Person.heard_sealed.is_not(None),
        )
    )
    return list(await session.scalars(query))


async def delete_person(session: AsyncSession, person_id: int) -> None:
    """Remove the person and their conversation row (erasure). Their cases must already be
    detached (storage/cases.py detach); outbox rows still to be sent stay, without the link;
    their subscriptions go, and their broadcast deliveries stay counted, unlinked."""
    await broadcasts.forget_person(session, person_id)
    await promotions.forget_person(session, person_id)
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))
    person = await session.get(Person, person_id)
    if person is not None:
        await session.execute(
            delete(ShownChoices).where(
                ShownChoices.channel == person.channel,
                ShownChoices.chat_id == person.channel_user_id,
            )
        )
    await session.execute(
        update(OutboxItem).where(OutboxItem.person_id == person_id).values(person_id=None)
    )
    await session.execute(delete(Person).where(Person.id == person_id))


async def forget_idle(
    session: AsyncSession,
    channel: str,
    before: datetime,
    reporter_tag: Callable[[int], str],
    limit: int = FORGET_BATCH,
) -> int:
    """Delete at most `limit` people of `channel` (the web chat's visitors) who came before
    `before` and left nothing to follow: no consent or phone, no case (theirs by id, or
    anonymous by `reporter_tag`), no conversation state, nothing waiting to be sent and
    nothing written or sent since `before`. Their empty conversation rows and the messages
    sent to them go with them. How many people went.

    The newest person is never deleted, so no id is handed out twice (SQLite reuses the
    highest): a tag made from an id can never come to point at someone else."""
    idle = _idle(channel, before)
    found = await session.scalars(select(Person.id).where(idle).order_by(Person.id).limit(limit))
    candidates = list(found)
    if not candidates:
        return 0
    states = await session.execute(
        select(Conversation.person_id, Conversation.state).where(
            Conversation.person_id.in_(candidates)
        )
    )
    busy = {person_id for person_id, state in states if state}
    tags = {reporter_tag(person_id): person_id for person_id in candidates}
    filed = await session.scalars(
        select(Case.reporter_tag).where(Case.reporter_tag.in_(list(tags)))
    )
    busy |= {tags[tag] for tag in filed if tag is not None}
    ids = [person_id for person_id in candidates if person_id not in busy]
    if not ids:
        return 0
    await session.execute(
        delete(OutboxItem).where(OutboxItem.person_id.in_(ids), _done_before(before))
    )
    await session.execute(
        delete(Conversation).where(
            Conversation.person_id.in_(ids), Conversation.updated_at < before
        )
    )
    # The conditions again: whoever wrote meanwhile stays.
    result = await session.execute(delete(Person).where(Person.id.in_(ids), idle))
    return rows_changed(result)


def _done_before(before: datetime) -> ColumnElement[bool]:
    """A message sent before `before`, or given up after being written before it."""
    return or_(
        OutboxItem.sent_at < before,
        and_(
            OutboxItem.sent_at.is_(None), OutboxItem.failed.is_(True),
            OutboxItem.created_at < before,
        ),
    )  # fmt: skip


def _not_done_before(before: datetime) -> ColumnElement[bool]:
    """A message still to be sent, or sent (or given up) since `before`; spelt out, as NOT
    of a comparison with NULL is NULL, not true."""
    waiting = and_(OutboxItem.sent_at.is_(None), OutboxItem.failed.is_(False))
    return or_(waiting, OutboxItem.sent_at >= before, OutboxItem.created_at >= before)


def _idle(channel: str, before: datetime) -> ColumnElement[bool]:
    """A person of `channel` since before `before` with nothing kept but maybe an old
    conversation row (its state is checked apart) and old messages sent to them."""
    others = aliased(Person)
    newest = select(func.max(others.id)).scalar_subquery()
    return and_(
        Person.channel == channel,
        Person.created_at < before,
        Person.consent_at.is_(None),
        Person.phone_encrypted.is_(None),
        Person.cases_sealed.is_(None),  # an anonymous reporter (bot/services/reporters.py)
        Person.id < newest,
        ~exists().where(Case.person_id == Person.id),
        ~exists().where(Conversation.person_id == Person.id, Conversation.updated_at >= before),
        ~exists().where(OutboxItem.person_id == Person.id, _not_done_before(before)),
    )
