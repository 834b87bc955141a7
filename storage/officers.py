"""Officer accounts, their Telegram link, one-time invite codes, dashboard sessions, and
officers' groups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cases import OPEN_STATUSES
from storage.db import rows_changed
from storage.models import Case, Officer, OfficerGroup, OfficerSession, OutboxItem, Union

ROLES = ("officer", "admin")
# A dashboard session ends after this long unused, or this long after login (bot/web/auth.py).
SESSION_IDLE = timedelta(hours=2)
SESSION_LIFETIME = timedelta(hours=12)
# Why an alert waiting to be sent was withdrawn (the outbox's last_error).
WITHDRAWN = "withdrawn: the recipient is no longer an officer"


def add(
    session: AsyncSession,
    *,
    union_id: int,
    name: str,
    role: str,
    now: datetime,
    login: str | None = None,
    password_hash: str | None = None,
    telegram_user_id: str | None = None,
) -> Officer:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    officer = Officer(
        union_id=union_id,
        name=name,
        role=role,
        login=login,
        password_hash=password_hash,
        telegram_user_id=telegram_user_id,
        active=True,
        created_at=now,
    )
    session.add(officer)
    return officer


async def by_telegram(session: AsyncSession, user_id: str) -> Officer | None:
    """The active officer linked to this Telegram account, if any."""
    return await session.scalar(
        select(Officer).where(Officer.telegram_user_id == user_id, Officer.active.is_(True))
    )


async def by_login(session: AsyncSession, login: str) -> Officer | None:
    return await session.scalar(select(Officer).where(Officer.login == login))


async def by_login_or_id(session: AsyncSession, key: str) -> Officer | None:
    found = await by_login(session, key)
    if found is None and key.isascii() and key.isdigit() and len(key) <= 11:
        found = await session.get(Officer, int(key))
    return found


async def listing(session: AsyncSession) -> list[tuple[Officer, str]]:
    """Every officer with their union's code."""
    rows = await session.execute(
        select(Officer, Union.code).join(Union, Union.id == Officer.union_id).order_by(Officer.id)
    )
    return [(officer, code) for officer, code in rows.all()]


async def by_invite(session: AsyncSession, tag: str, now: datetime) -> Officer | None:
    """The active officer whose unexpired invite code has this tag."""
    return await session.scalar(
        select(Officer).where(
            Officer.invite_tag == tag,
            Officer.invite_expires_at > now,
            Officer.active.is_(True),
        )
    )


async def in_unions(session: AsyncSession, union_ids: Sequence[int]) -> Sequence[Officer]:
    """Active officers of these unions, for choosing an assignee."""
    return (
        await session.scalars(
            select(Officer)
            .where(Officer.union_id.in_(list(union_ids)), Officer.active.is_(True))
            .order_by(Officer.name, Officer.id)
        )
    ).all()


async def to_notify(session: AsyncSession, union_id: int) -> Sequence[Officer]:
    """Active officers of a union with a linked Telegram account."""
    return (
        await session.scalars(
            select(Officer)
            .where(
                Officer.union_id == union_id,
                Officer.active.is_(True),
                Officer.telegram_user_id.is_not(None),
            )
            .order_by(Officer.id)
        )
    ).all()


async def linked(session: AsyncSession) -> Sequence[Officer]:
    """Active officers of every union with a linked Telegram account."""
    return (
        await session.scalars(
            select(Officer)
            .where(Officer.active.is_(True), Officer.telegram_user_id.is_not(None))
            .order_by(Officer.id)
        )
    ).all()


async def hold(session: AsyncSession, officer_id: int) -> Officer | None:
    """The officer, their row held until the caller's transaction ends, so that what is done
    once per officer (the daily digest) is done once across processes. The hold is a write
    (a column set to itself): a row lock on PostgreSQL, and on SQLite, which only starts its
    transaction at a write, the database's one write lock; either way another process doing
    the same waits here, then reads what this one committed."""
    await session.execute(
        update(Officer)
        .where(Officer.id == officer_id)
        .values(active=Officer.active)
        .execution_options(synchronize_session=False)
    )
    return await session.get(Officer, officer_id, populate_existing=True)


async def groups(session: AsyncSession, union_id: int) -> Sequence[OfficerGroup]:
    return (
        await session.scalars(
            select(OfficerGroup).where(OfficerGroup.union_id == union_id).order_by(OfficerGroup.id)
        )
    ).all()


async def group_at(session: AsyncSession, channel: str, chat_id: str) -> OfficerGroup | None:
    return await session.scalar(
        select(OfficerGroup).where(OfficerGroup.channel == channel, OfficerGroup.chat_id == chat_id)
    )


async def register_group(
    session: AsyncSession, union_id: int, channel: str, chat_id: str, now: datetime
) -> OfficerGroup:
    """Register (or move to another union) the group at this chat."""
    group = await group_at(session, channel, chat_id)
    if group is None:
        group = OfficerGroup(union_id=union_id, channel=channel, chat_id=chat_id, created_at=now)
        session.add(group)
    else:
        group.union_id = union_id
    return group


async def all_groups(session: AsyncSession) -> Sequence[OfficerGroup]:
    return (await session.scalars(select(OfficerGroup).order_by(OfficerGroup.id))).all()


async def remove_group(session: AsyncSession, channel: str, chat_id: str) -> bool:
    """Stop telling the group at this chat of new cases; False when none was registered."""
    result = await session.execute(
        delete(OfficerGroup).where(OfficerGroup.channel == channel, OfficerGroup.chat_id == chat_id)
    )
    return rows_changed(result) > 0


async def admins_to_notify(session: AsyncSession) -> Sequence[Officer]:
    """Active admins with a linked Telegram account."""
    return (
        await session.scalars(
            select(Officer)
            .where(
                Officer.role == "admin",
                Officer.active.is_(True),
                Officer.telegram_user_id.is_not(None),
            )
            .order_by(Officer.id)
        )
    ).all()


async def active_admins(session: AsyncSession) -> int:
    query = select(func.count()).where(Officer.role == "admin", Officer.active.is_(True))
    return int(await session.scalar(query) or 0)


async def open_cases_of(session: AsyncSession, officer_id: int) -> int:
    """How many unresolved cases are assigned to the officer."""
    query = select(func.count()).where(
        Case.assignee_id == officer_id, Case.status.in_(OPEN_STATUSES)
    )
    return int(await session.scalar(query) or 0)


async def end_sessions(session: AsyncSession, officer_id: int) -> int:
    """Log the officer out of the dashboard everywhere; how many sessions ended."""
    result = await session.execute(
        delete(OfficerSession).where(OfficerSession.officer_id == officer_id)
    )
    return rows_changed(result)


async def withdraw_alerts(session: AsyncSession, channel: str, chat_id: str) -> int:
    """Alerts still waiting to go to this chat are not sent (a worker's own replies, which
    name their person, stay); how many were withdrawn."""
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.channel == channel,
            OutboxItem.chat_id == chat_id,
            OutboxItem.person_id.is_(None),
            OutboxItem.sent_at.is_(None),
            OutboxItem.failed.is_(False),
        )
        .values(failed=True, last_error=WITHDRAWN)
    )
    return rows_changed(result)


async def forget_expired(session: AsyncSession, now: datetime) -> int:
    """Delete dashboard sessions that have ended (too old, or idle too long) and clear link
    codes past their date; how many of both. For a periodic job, and called at each login."""
    ended = await session.execute(
        delete(OfficerSession).where(
            or_(
                OfficerSession.expires_at <= now,
                OfficerSession.last_seen_at <= now - SESSION_IDLE,
            )
        )
    )
    expired = await session.execute(
        update(Officer)
        .where(Officer.invite_expires_at <= now)
        .values(invite_tag=None, invite_expires_at=None)
    )
    return rows_changed(ended) + rows_changed(expired)
