"""What every channel (Telegram, Zalo, terminal, web chat) provides to the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

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

    def numbered(self, delivery: Delivery) -> list[str]:
        """The payloads of options this delivery will show as numbered lines (the worker
        types the number back), for the unit of work to remember with it; [] for none."""
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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesce(Generic[K, V]):
    """Calls made at the same moment share one call of `many`, which takes all their keys:
    under load a channel's sends each need a row of the database, and one query for the
    hundred sends in flight costs what one query for one does."""

    def __init__(
        self, many: Callable[[Collection[K]], Awaitable[Mapping[K, V]]], missing: V
    ) -> None:
        self.many = many
        self.missing = missing
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the other sends of this moment join
        waiting, self._waiting, self._task = self._waiting, {}, None
        try:
            found = await self.many(list(waiting))
        except Exception as exc:
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key, self.missing))
