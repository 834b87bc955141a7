"""The durable inbox: updates stored before they are acknowledged, processed exactly once.

The hot paths (store, pending, finish) use Core statements on the table: one statement per
batch of updates, not one ORM object per update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.dialect import insert
from storage.localtime import start_of_day
from storage.models import InboxItem

MAX_ATTEMPTS = 3
# Rows deleted by one prune (bot/retention.py): the next run takes the rest.
PRUNE_BATCH = 1000
# A declarative class with a __tablename__ maps a Table; DeclarativeBase types __table__ as
# any FromClause only because a class may also map a join or a subquery.
TABLE = cast(Table, InboxItem.__table__)


@dataclass(frozen=True, slots=True)
class NewUpdate:
    channel: str
    external_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pending:
    """An update waiting to be processed."""

    id: int
    channel: str
    external_id: str
    payload: dict[str, Any]


def without_nul(value: Any) -> Any:
    """The payload with NUL characters removed from every string: PostgreSQL's text and
    JSONB cannot hold them, and one such update must not stop the others being stored."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


async def store(session: AsyncSession, updates: Sequence[NewUpdate], now: datetime) -> None:
    """Insert updates not seen before; a redelivered (channel, external_id) is skipped.

    The caller commits, and only then acknowledges.
    """
    if not updates:
        return
    stmt = insert(session, TABLE).on_conflict_do_nothing(index_elements=["channel", "external_id"])
    await session.execute(
        stmt,
        [
            {
                "channel": u.channel,
                "external_id": u.external_id,
                "payload": u.payload,
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            }
            for u in updates
        ],
    )


async def pending(
    session: AsyncSession, channels: Sequence[str], limit: int = 100, *, only: int | None = None
) -> list[Pending]:
    """The oldest unprocessed updates of these channels, in arrival order (or just `only`)."""
    stmt = select(TABLE.c.id, TABLE.c.channel, TABLE.c.external_id, TABLE.c.payload).where(
        TABLE.c.status == "pending", TABLE.c.channel.in_(channels)
    )
    stmt = stmt.where(TABLE.c.id == only) if only is not None else stmt
    rows = await session.execute(stmt.order_by(TABLE.c.id).limit(limit))
    return [Pending(r.id, r.channel, r.external_id, r.payload or {}) for r in rows]


async def finish(
    session: AsyncSession, ids: Sequence[int], now: datetime, status: str = "done"
) -> None:
    """Mark updates processed (or ignored) in the caller's transaction and drop their
    payloads: after processing only what deduplication needs stays (no names, no text), and
    its times only to the day (an exact time could be matched to a case's)."""
    if ids:
        day = start_of_day(now)
        await session.execute(
            update(TABLE)
            .where(TABLE.c.id.in_(list(ids)))
            .values(status=status, received_at=day, processed_at=day, payload=None)
        )


async def record_failure(session: AsyncSession, item_id: int, error: str, now: datetime) -> bool:
    """Count a failed attempt; after MAX_ATTEMPTS the update is given up. Returns True then."""
    item = await session.get(InboxItem, item_id)
    if item is None:
        return False
    item.attempts += 1
    item.error = error[:200]
    if item.attempts >= MAX_ATTEMPTS:
        item.status = "failed"
        item.received_at = item.processed_at = start_of_day(now)
        item.payload = None
        return True
    return False


async def prune(session: AsyncSession, before: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete at most `limit` updates handled (done, ignored or given up) before `before`:
    once a channel can no longer deliver them again, deduplication needs them no more.
    Pending updates stay, however old. How many went."""
    handled = (
        select(TABLE.c.id)
        .where(TABLE.c.status != "pending", TABLE.c.processed_at < before)
        .order_by(TABLE.c.id)
        .limit(limit)
    )
    result = await session.execute(delete(TABLE).where(TABLE.c.id.in_(handled)))
    return rows_changed(result)
