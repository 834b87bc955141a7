"""The audit log: who did what to which case. Details never carry message text or identity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    now: datetime,
    case_id: int | None = None,
    officer_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        case_id=case_id,
        officer_id=officer_id,
        detail=detail or {},
    )
    session.add(entry)
    return entry


async def officers_since(
    session: AsyncSession, actions: Sequence[str], since: datetime, officer_id: int | None = None
) -> set[int]:
    """The officers (or only `officer_id`) with an entry of one of these actions at or after
    `since`."""
    query = select(AuditEntry.officer_id).where(
        AuditEntry.action.in_(actions), AuditEntry.at >= since, AuditEntry.officer_id.is_not(None)
    )
    if officer_id is not None:
        query = query.where(AuditEntry.officer_id == officer_id)
    return {found for found in (await session.scalars(query.distinct())).all() if found}
