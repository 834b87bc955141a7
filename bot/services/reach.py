"""Whether a person can be reached: when they last wrote, and what waits for them.

Some messengers only let the bot write within a window after the person's last message
(Zalo: free for 48 hours, billed up to 7 days, then not at all; bot/channels/zalo.py says
which applies). The dispatcher notes when each person wrote (`heard`), to the minute and
sealed: a time in clear could be matched to an anonymous case's. When a person writes after
messages to them were held (the window had closed, they had unfollowed), those are released
to go out now. Unfollowing or blocking the bot marks them unreachable until they write again.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.crypto import Vault
from handlers.types import Recipient
from storage import outbox, people
from storage.models import Person

# A person's time is rewritten when it is older than this: one write every few minutes of
# chatting instead of one per message. Windows are counted from it, so they close up to this
# much early: never late.
PRECISION = timedelta(minutes=5)


def last_heard(vault: Vault, person: Person | None) -> datetime | None:
    """When the person last wrote, if known."""
    if person is None or person.heard_sealed is None:
        return None
    try:
        return datetime.fromisoformat(vault.open(person.heard_sealed)).astimezone(UTC)
    except ValueError:
        return None


async def heard(session: AsyncSession, vault: Vault, person: Person, at: datetime) -> None:
    """The person wrote at `at`: remember it, mark them reachable, and release what was held
    for them (in the caller's transaction)."""
    before = last_heard(vault, person)
    if before is not None and at - before < PRECISION and not person.blocked:
        return
    if before is not None and at < before:
        return  # a late delivery of an older message
    person.heard_sealed = vault.seal(at.replace(second=0, microsecond=0).isoformat())
    person.blocked = False
    await outbox.release(session, person.channel, person.channel_user_id)


def gone(person: Person) -> None:
    """The person unfollowed or blocked the bot: nothing more goes to them until they write."""
    person.blocked = True


async def gone_chat(session: AsyncSession, channel: str, chat_id: str) -> None:
    """A messenger said the person of this private chat blocked the bot (Telegram's 403)."""
    person = await people.find(session, channel, chat_id)
    if person is not None:
        gone(person)


async def recipients(
    session: AsyncSession, vault: Vault, channel: str, chat_ids: Collection[str]
) -> dict[str, Recipient]:
    """For a channel about to send to private chats: when each one's person last wrote,
    whether they left, their language (chats of nobody the bot knows are left out)."""
    found = await people.find_many(session, {(channel, chat_id) for chat_id in chat_ids})
    return {
        chat_id: Recipient(last_heard(vault, person), person.blocked, person.language)
        for (_channel, chat_id), person in found.items()
    }
