"""The durable inbox: updates stored before they are acknowledged, processed exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import insert
from storage.models import InboxItem

MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class NewUpdate:
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


async def store(session: AsyncSession, updates: Sequence[NewUpdate], now: datetime) -> int:
    """Insert updates not seen before; a redelivered (channel, external_id) is skipped.

    Returns how many were new. The caller commits, and only then acknowledges.
    """
    if not updates:
        return 0
    stmt = (
        insert(session, InboxItem)
        .values(
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
            ]
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    result = await session.execute(stmt)
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def pending(
    session: AsyncSession, channels: Sequence[str], limit: int = 100
) -> Sequence[InboxItem]:
    """The oldest unprocessed updates of these channels, in arrival order."""
    return (
        await session.scalars(
            select(InboxItem)
            .where(InboxItem.status == "pending", InboxItem.channel.in_(channels))
            .order_by(InboxItem.id)
            .limit(limit)
        )
    ).all()


def mark_processed(item: InboxItem, now: datetime, status: str = "done") -> None:
    """Mark done (or ignored) in the caller's transaction and drop the payload: after
    processing only what deduplication needs stays (no names, no text)."""
    item.status = status
    item.processed_at = now
    item.payload = None


async def record_failure(session: AsyncSession, item_id: int, error: str, now: datetime) -> bool:
    """Count a failed attempt; after MAX_ATTEMPTS the update is given up. Returns True then."""
    item = await session.get(InboxItem, item_id)
    if item is None:
        return False
    item.attempts += 1
    item.error = error[:200]
    if item.attempts >= MAX_ATTEMPTS:
        mark_processed(item, now, status="failed")
        return True
    return False


async def count_pending(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.status == "pending")
        )
        or 0
    )
