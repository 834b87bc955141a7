"""The contract between channels, the dispatcher and handlers.

Channels turn their wire format into Incoming and send Outgoing; handlers take a Context and
an Incoming and return Outgoing replies, sending nothing themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

# The contract imports nothing heavy and nothing of ours at run time: channels, services and
# the web import it, and it must not pull the handlers, the models or the services in.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.services import Services
    from storage.models import Person

# Telegram's limits, which the other channels are held to as well.
MAX_TEXT = 4096
MAX_PAYLOAD_BYTES = 64
# Conversation state that survives the end of a flow: a form set aside (handlers/forms.py),
# the outreach link the person came through (bot/services/outreach.py).
LASTING_STATE = ("paused", "outreach")


@dataclass(frozen=True, slots=True)
class Button:
    """A choice shown as a button; `payload` comes back in Incoming.payload when pressed."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        if len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload over {MAX_PAYLOAD_BYTES} bytes: {self.payload!r}")


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Attachment:
    """Something other than text that came with a message (photo, voice, sticker, file).

    `reference` is what the channel needs to fetch the file later (Telegram's file_id);
    `size` and `mime` are what the sender's app declared, checked again after fetching.
    """

    kind: str
    reference: str | None = None
    size: int | None = None
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a person did: typed text, pressed a button, or sent something else."""

    channel: str
    user_id: str
    chat_id: str
    text: str | None = None
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    locale: str | None = None
    external_id: str = ""
    # The channel's handle for acknowledging a button press (Telegram's callback query id).
    ack: str | None = None
    # When the person sent it, if the channel says (it may be long before we receive it).
    sent_at: datetime | None = None
    # Typed text that is the number of an option the channel showed (the terminal numbers
    # its buttons): that option's payload. The dispatcher reads it as the press unless the
    # step expects a typed answer, where "6" may mean six people.
    numbered: str | None = None
    # Not a message but a change in the chat (JOINED: followed the account, so greet them;
    # LEFT: unfollowed or blocked the bot, so stop writing to them).
    event: str | None = None


JOINED = "joined"
LEFT = "left"

# Why a channel holds a message until the person writes again (bot/channels/base.py
# Unreachable): their reply window closed; it is only open at a price the union turned down;
# they unfollowed; the messenger calls them inactive.
WINDOW_CLOSED = "window_closed"
BILLED_OFF = "billed_off"
NOT_FOLLOWING = "not_following"
INACTIVE = "inactive"
HELD_REASONS = (WINDOW_CLOSED, BILLED_OFF, NOT_FOLLOWING, INACTIVE)

# Why a broadcast to a Zalo follower outside the free window, sent as a promotion message,
# did not go (yet): Zalo's promotional hours are closed (it waits for them); the follower
# already got the day's promotion message (it waits for tomorrow); or this month's (final).
PROMOTION_HOURS = "promotion_hours"
PROMOTION_TODAY = "promotion_today"
PROMOTION_QUOTA = "promotion_quota"


@dataclass(frozen=True, slots=True)
class Address:
    """Where an Outgoing goes: a chat on a channel, and the person behind it if known."""

    channel: str
    chat_id: str
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """What a channel about to send may know of the person in a private chat: when they last
    wrote (a reply window is counted from it), whether they left the account, their
    language. All None/False for someone the bot holds nothing about (after erasure)."""

    heard_at: datetime | None = None
    left: bool = False
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    to: Address
    text: str
    buttons: Keyboard = ()
    # The case a message to a worker is about (an officer's answer): if the messenger will not
    # carry it now, the case's officers are told (bot/outbox.py).
    case_id: int | None = None
    # A picture (JPEG) sent with the text: a broadcast's test to its author. Telegram shows
    # it; channels without pictures send the text alone.
    image: bytes | None = None


@dataclass(slots=True)
class Context:
    """What a handler may use: one unit of work, the person, their state, the services."""

    session: AsyncSession
    person: Person
    state: dict[str, Any]
    services: Services
    now: datetime
    address: Address
    # True when this message created the person: the first thing they ever sent.
    first_contact: bool = False
    # Set by erasure (/xoadulieu): the dispatcher deletes the person and their conversation.
    erased: bool = False

    def end_flow(self) -> None:
        """Forget the flow in progress. A form set aside outlives it (it ends on its own
        terms)."""
        kept = {key: self.state[key] for key in LASTING_STATE if key in self.state}
        self.state.clear()
        self.state.update(kept)

    def erase_person(self) -> None:
        """Delete this person and their conversation once the handler is done."""
        self.erased = True

    def reply(self, text: str, buttons: Sequence[Sequence[Button]] = ()) -> Outgoing:
        """A message back to the chat this message came from."""
        return Outgoing(self.address, text, tuple(tuple(row) for row in buttons))

    def set_language(self, language: str) -> None:
        """Remember the person's language and speak it from this reply on."""
        self.person.language = language
        self.services.catalogs.switch(language)


Handler = Callable[[Context, Incoming], Awaitable[list[Outgoing]]]


class StaleButton(Exception):
    """A button payload that is malformed, forged, or no longer valid for this person.

    Raised before any change is made; the dispatcher answers with a polite refusal.
    """
