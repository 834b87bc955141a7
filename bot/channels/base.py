"""What every channel (Telegram, Zalo, terminal, web chat) provides to the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from handlers.types import Incoming


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row, ready to send: text and rows of (label, payload) buttons."""

    id: int
    channel: str
    chat_id: str
    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()
    case_id: int | None = None


class SendError(Exception):
    """A send failed. `permanent` ones (blocked bot, unknown chat) are not retried;
    `retry_after` is how long the messenger asked us to wait, if it said. Not `counted`: the
    channel as a whole cannot send (its tokens need an admin), so the message waits without
    using up its tries."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        counted: bool = True,
    ):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.counted = counted


class Unreachable(SendError):
    """The messenger will not carry a message to this person now (their reply window has
    closed, they unfollowed): it is held, and goes out when they write again. `reason` is one
    of handlers.types.HELD_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class FetchError(Exception):
    """A file could not be downloaded. `permanent` ones (unknown or expired file, too large)
    are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class Channel(Protocol):
    name: str
    # Whether the channel reads what it was sent back from the outbox (the web chat shows its
    # history from there). Other channels' rows are blanked once delivered.
    keeps_history: bool

    def to_incoming(self, payload: dict[str, Any]) -> Incoming | None:
        """Turn a stored update into an Incoming; None for updates the bot ignores."""
        ...

    async def send(self, delivery: Delivery) -> None:
        """Send one message in the channel's format; raise SendError on failure."""
        ...

    async def acknowledge(self, msg: Incoming) -> None:
        """Tell the messenger a button press was handled (best effort)."""
        ...

    async def fetch(self, reference: str, limit: int) -> bytes:
        """The file an Attachment's reference names, at most `limit` bytes; FetchError."""
        ...


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Split text into chunks of at most `limit` characters, at paragraph or line breaks
    where possible, so a long reply still arrives whole."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    chunks.append(rest)
    return chunks
