"""Evidence rows: recorded on arrival, fetched and scrubbed in the background (bot/evidence.py),
attached to a case when the form is sent, swept when the form never is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from storage.db import rows_changed
from storage.models import Evidence

MAX_ATTEMPTS = 6


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … at most an hour: a file stays fetchable for a day or more."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def receive(
    session: AsyncSession,
    *,
    channel: str,
    reference: str,
    kind: str,
    mime: str | None,
    size: int | None,
    now: datetime,
) -> Evidence:
    """Record a file that has just arrived; the fetcher picks it up after the commit."""
    row = Evidence(
        channel=channel,
        reference=reference,
        kind=kind,
        mime=mime,
        size=size,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        received_at=now,
    )
    session.add(row)
    return row


async def attach(session: AsyncSession, ids: Sequence[int], case_id: int) -> int:
    """Give the files a form collected to the case it opened (only files not yet attached)."""
    if not ids:
        return 0
    result = await session.execute(
        update(Evidence)
        .where(Evidence.id.in_([int(i) for i in ids]), Evidence.case_id.is_(None))
        .values(case_id=case_id)
    )
    return rows_changed(result)


async def discard(session: AsyncSession, ids: Sequence[int]) -> int:
    """Delete files a form collected but never sent (cancelled, erased)."""
    if not ids:
        return 0
    result = await session.execute(
        delete(Evidence).where(Evidence.id.in_([int(i) for i in ids]), Evidence.case_id.is_(None))
    )
    return rows_changed(result)


async def forget_cases(session: AsyncSession, case_ids: Sequence[int]) -> int:
    """Delete the files of these cases, bytes and all (closed cases past their retention)."""
    if not case_ids:
        return 0
    result = await session.execute(
        delete(Evidence).where(Evidence.case_id.in_([int(i) for i in case_ids]))
    )
    return rows_changed(result)


async def sweep(session: AsyncSession, before: datetime) -> int:
    """Delete files received before `before` that no case took: their form was abandoned."""
    result = await session.execute(
        delete(Evidence).where(Evidence.case_id.is_(None), Evidence.received_at < before)
    )
    return rows_changed(result)


async def due(session: AsyncSession, now: datetime, limit: int = 10) -> Sequence[Evidence]:
    """Files waiting to be fetched whose time has come, oldest first."""
    return (
        await session.scalars(
            select(Evidence)
            .where(Evidence.status == "pending", Evidence.next_attempt_at <= now)
            .order_by(Evidence.id)
            .limit(limit)
        )
    ).all()


async def store(
    session: AsyncSession, evidence_id: int, *, mime: str, content: bytes, now: datetime
) -> None:
    """The scrubbed file; the channel's reference is no longer needed and is dropped."""
    await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == "pending")
        .values(
            status="ready",
            mime=mime,
            size=len(content),
            content=content,
            reference=None,
            fetched_at=now,
            next_attempt_at=None,
        )
    )


async def give_up(session: AsyncSession, evidence_id: int, *, status: str, reason: str) -> None:
    """The file cannot be had (failed) or used (rejected): say why, keep no reference."""
    await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == "pending")
        .values(status=status, reason=reason[:40], reference=None, next_attempt_at=None)
    )


async def retry_later(
    session: AsyncSession, evidence_id: int, attempts: int, now: datetime
) -> None:
    await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == "pending")
        .values(attempts=attempts, next_attempt_at=now + backoff(attempts))
    )


async def for_case(session: AsyncSession, case_id: int) -> Sequence[Evidence]:
    """The case's files without their bytes, in the order they were sent."""
    return (
        await session.scalars(
            select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)
        )
    ).all()


async def content(session: AsyncSession, case_id: int, evidence_id: int) -> Evidence | None:
    """One ready file of a case, bytes included (the caller has checked access to the case)."""
    return await session.scalar(
        select(Evidence)
        .options(undefer(Evidence.content))
        .where(Evidence.id == evidence_id, Evidence.case_id == case_id, Evidence.status == "ready")
    )
