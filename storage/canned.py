"""Canned replies: ready answers officers send in one tap; admins maintain them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.models import CannedReply

MAX_TITLE = 100
MAX_TEXT = 4000


async def all_replies(session: AsyncSession) -> Sequence[CannedReply]:
    return (await session.scalars(select(CannedReply).order_by(CannedReply.title))).all()


async def get(session: AsyncSession, reply_id: int) -> CannedReply | None:
    return await session.get(CannedReply, reply_id)


def save(
    session: AsyncSession,
    reply: CannedReply | None,
    *,
    title: str,
    text: str,
    officer_id: int,
    now: datetime,
) -> CannedReply:
    """Add a reply (reply=None) or change one."""
    if reply is None:
        reply = CannedReply(title=title, text=text, updated_by=officer_id, updated_at=now)
        session.add(reply)
    else:
        reply.title, reply.text, reply.updated_by, reply.updated_at = title, text, officer_id, now
    return reply


async def remove(session: AsyncSession, reply_id: int) -> bool:
    result = await session.execute(delete(CannedReply).where(CannedReply.id == reply_id))
    return bool(rows_changed(result))
