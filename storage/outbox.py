"""The outbox: replies written with the effects that caused them, sent after the commit.

A send that fails is retried with backoff; a crash between sending and marking can repeat
a send, never lose one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.models import OutboxItem

MAX_ATTEMPTS = 8
# Rows deleted by one prune (bot/retention.py): the next run takes the rest.
PRUNE_BATCH = 1000
# A declarative class with a __tablename__ maps a Table; DeclarativeBase types __table__ as
# any FromClause only because a class may also map a join or a subquery.
TABLE = cast(Table, OutboxItem.__table__)


def message(
    *,
    channel: str,
    chat_id: str,
    text: str,
    buttons: list[list[list[str]]],
    person_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The row for one message to send."""
    return {
        "person_id": person_id,
        "channel": channel,
        "chat_id": chat_id,
        "text": text,
        "buttons": buttons,
        "created_at": now,
        "attempts": 0,
        "failed": False,
    }


async def add(session: AsyncSession, messages: Sequence[dict[str, Any]]) -> list[int]:
    """Insert messages in one statement, in the caller's transaction; their ids in order."""
    if not messages:
        return []
    result = await session.execute(
        insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True), list(messages)
    )
    return list(result.scalars())


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … seconds, at most ten minutes."""
    return timedelta(seconds=min(2**attempts, 600))


async def due(
    session: AsyncSession,
    channels: Sequence[str],
    now: datetime,
    limit: int = 200,
    exclude: Sequence[int] = (),
) -> Sequence[OutboxItem]:
    """Unsent messages whose time has come, oldest first."""
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.sent_at.is_(None),
            OutboxItem.failed.is_(False),
            OutboxItem.channel.in_(channels),
            or_(OutboxItem.next_attempt_at.is_(None), OutboxItem.next_attempt_at <= now),
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(OutboxItem.id.not_in(exclude))
    return (await session.scalars(stmt)).all()


async def for_chat(
    session: AsyncSession, channel: str, chat_id: str, after: int = 0, limit: int = 50
) -> Sequence[OutboxItem]:
    """Messages written to one chat with ids above `after`, oldest first, sent or not (the
    web chat reads its replies here, so they outlive the process that wrote them)."""
    stmt = (
        select(OutboxItem)
        .where(OutboxItem.channel == channel, OutboxItem.chat_id == chat_id, OutboxItem.id > after)
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def mark_sent(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    if ids:
        await session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(sent_at=now))


async def record_failure(
    session: AsyncSession,
    item_id: int,
    error: str,
    now: datetime,
    *,
    permanent: bool,
    retry_after: float | None = None,
) -> bool:
    """Count a failed send and schedule the retry (when the messenger said how long to wait,
    that long). Returns True when given up."""
    item = await session.get(OutboxItem, item_id)
    if item is None:
        return True
    item.attempts += 1
    item.last_error = error[:200]
    item.failed = permanent or item.attempts >= MAX_ATTEMPTS
    wait = timedelta(seconds=retry_after) if retry_after is not None else backoff(item.attempts)
    item.next_attempt_at = now + wait
    return item.failed


async def forget_person(session: AsyncSession, person_id: int) -> int:
    """Delete what was sent (or is waiting to be sent) to a person; how many rows went."""
    result = await session.execute(delete(OutboxItem).where(OutboxItem.person_id == person_id))
    return rows_changed(result)


async def prune(
    session: AsyncSession,
    before: datetime,
    *,
    channels: Collection[str] | None = None,
    other_than: Collection[str] = (),
    limit: int = PRUNE_BATCH,
) -> int:
    """Delete at most `limit` messages sent before `before` (or given up, if written before
    it), on these channels or on all but `other_than`. Messages still to be sent stay. How
    many went."""
    done = or_(
        TABLE.c.sent_at < before,
        and_(TABLE.c.sent_at.is_(None), TABLE.c.failed.is_(True), TABLE.c.created_at < before),
    )
    oldest = select(TABLE.c.id).where(done).order_by(TABLE.c.id).limit(limit)
    if channels is not None:
        oldest = oldest.where(TABLE.c.channel.in_(list(channels)))
    if other_than:
        oldest = oldest.where(TABLE.c.channel.not_in(list(other_than)))
    result = await session.execute(delete(TABLE).where(TABLE.c.id.in_(oldest)))
    return rows_changed(result)
