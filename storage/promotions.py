"""The promotion messages (Zalo's tin truyền thông) each follower got, by day: Zalo lets an
OA send a follower only so many a day and a calendar month, so each one sent is counted
here first (bot/channels/zalo.py decides the limits and the days, in Vietnam time). A row is
keyed by the broadcast delivery it carried, so a retried send is counted once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.dialect import insert
from storage.models import Person, PromotionSend

# What `take` answers when a limit is reached.
DAY = "day"
MONTH = "month"


async def take(
    session: AsyncSession,
    channel: str,
    chat_id: str,
    delivery_id: int,
    today: date,
    *,
    per_day: int,
    per_month: int,
) -> str | None:
    """Count one promotion message to the person of this chat today, unless it would pass
    a limit: None when counted (or already counted for this delivery), else DAY or MONTH.
    Someone the bot no longer knows (erased meanwhile) is not counted."""
    person_id = await session.scalar(
        select(Person.id)
        .where(Person.channel == channel, Person.channel_user_id == chat_id)
        .with_for_update()  # two broadcasts to one person count one after the other
    )
    if person_id is None or await session.get(PromotionSend, delivery_id) is not None:
        return None
    month, day = (
        await session.execute(
            select(func.count(), func.sum(case((PromotionSend.day == today, 1), else_=0))).where(
                PromotionSend.person_id == person_id,
                PromotionSend.day >= today.replace(day=1),
                PromotionSend.day <= today,
            )
        )
    ).one()
    if month >= per_month:
        return MONTH
    if (day or 0) >= per_day:
        return DAY
    row = {"delivery_id": delivery_id, "person_id": person_id, "day": today}
    await session.execute(insert(session, PromotionSend).values(row).on_conflict_do_nothing())
    return None


async def give_back(session: AsyncSession, delivery_id: int) -> None:
    """Zalo refused the message: it does not count."""
    await session.execute(delete(PromotionSend).where(PromotionSend.delivery_id == delivery_id))


async def forget_person(session: AsyncSession, person_id: int) -> None:
    """Erasure: what was counted of the person goes with them."""
    await session.execute(delete(PromotionSend).where(PromotionSend.person_id == person_id))


async def prune(session: AsyncSession, before: date) -> int:
    """Delete the counts of days before `before` (no limit looks back that far); how many."""
    return rows_changed(
        await session.execute(delete(PromotionSend).where(PromotionSend.day < before))
    )
