"""Options shown as numbered lines in a chat (a messenger that cannot show them as buttons),
sealed by the caller, so the number typed back picks the right one in any process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import dialect
from storage.db import rows_changed
from storage.localtime import start_of_day
from storage.models import Person, ShownChoices


async def show(
    session: AsyncSession, shown: Mapping[tuple[str, str], bytes], now: datetime
) -> None:
    """Remember the options now shown in these chats ((channel, chat id) -> sealed), in one
    statement; they replace what each chat was shown before."""
    if not shown:
        return
    rows = [
        {"channel": channel, "chat_id": chat_id, "sealed": sealed, "shown_at": start_of_day(now)}
        for (channel, chat_id), sealed in shown.items()
    ]
    stmt = dialect.insert(session, ShownChoices)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={"sealed": stmt.excluded.sealed, "shown_at": stmt.excluded.shown_at},
        ),
        rows,
    )


async def shown(session: AsyncSession, channel: str, chat_id: str) -> bytes | None:
    row = await session.get(ShownChoices, (channel, chat_id))
    return row.sealed if row is not None else None


async def forget_chat(session: AsyncSession, channel: str, chat_id: str) -> None:
    await session.execute(
        delete(ShownChoices).where(ShownChoices.channel == channel, ShownChoices.chat_id == chat_id)
    )


async def prune(session: AsyncSession, before: datetime, orphans_before: datetime) -> int:
    """Forget options shown before `before`, and those shown before `orphans_before` to a
    chat whose person is gone (the menu under an erasure's confirmation); how many."""
    nobody = ~exists().where(
        Person.channel == ShownChoices.channel, Person.channel_user_id == ShownChoices.chat_id
    )
    result = await session.execute(
        delete(ShownChoices).where(
            or_(
                ShownChoices.shown_at < before, and_(ShownChoices.shown_at < orphans_before, nobody)
            )
        )
    )
    return rows_changed(result)


async def rotate(session: AsyncSession, reseal: Callable[[bytes], bytes]) -> int:
    """Re-seal the options shown with the current key; how many."""
    rows = (await session.scalars(select(ShownChoices))).all()
    for row in rows:
        row.sealed = reseal(row.sealed)
    return len(rows)
