"""Officer accounts, their Telegram link, one-time invite codes, and officers' groups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Officer, OfficerGroup, Union

ROLES = ("officer", "admin")


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
    if found is None and key.isdigit():
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
