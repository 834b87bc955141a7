"""The audit log: who did what to which case. Details never carry message text or identity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
