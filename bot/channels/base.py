"""What every channel (Telegram, Zalo, terminal, web chat) provides to the dispatcher."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from handlers.types import Incoming


@dataclass(frozen=True, slots=True)
class Image:
    """A picture sent with a message (a broadcast's): a JPEG, and a key naming it, under
    which a channel keeps what the messenger gave back for it (Telegram's file_id, Zalo's
    attachment_id) to send it again without uploading it again."""

    key: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row, ready to send: text and rows of (label, payload) buttons. A broadcast's
    may carry an image (the outbox's never do)."""

    id: int
    channel: str
    chat_id: str
    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()
    case_id: int | None = None
    image: Image | None = None


class SendError(Exception):
    """A send failed. `permanent` ones (blocked bot, unknown chat) are not retried;
    `retry_after` is how long the messenger asked us to wait, if it said. Not `counted`: the
    channel as a whole cannot send (its tokens need an admin), so the message waits without
    using up its tries. `gone`: the person blocked the bot (permanent too)."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        counted: bool = True,
        gone: bool = False,
    ):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.counted = counted
        # The person blocked the bot: mark them unreachable until they write again.
        self.gone = gone


class PartlySent(SendError):
    """A message in two parts (a broadcast's image, then its text) of which the first went
    and the second did not: never sent again, or the image would arrive twice."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)


class Uploaded:
    """What a messenger gave back for an uploaded image, by the image's key, so it is
    uploaded once and sent by reference to every recipient. The first send of a key uploads;
    those at the same moment wait for it, then reuse what it got. `keep` seconds: how long
    the messenger keeps an upload (None: for good)."""

    def __init__(self, keep: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.keep = keep
        self.clock = clock
        self._found: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, key: str) -> str | None:
        found = self._found.get(key)
        if found is None:
            return None
        reference, at = found
        if self.keep is not None and self.clock() - at > self.keep:
            del self._found[key]
            return None
        return reference

    def put(self, key: str, reference: str) -> None:
        self._found[key] = (reference, self.clock())
        self._locks.pop(key, None)

    def lock(self, key: str) -> asyncio.Lock:
        """Held by the send uploading the key; the others wait, then find its reference."""
        return self._locks.setdefault(key, asyncio.Lock())


class Unreachable(SendError):
    """The messenger will not carry a message to this person now (their reply window has
    closed, they unfollowed): it is held, and goes out when they write again. `reason` is one
    of handlers.types.HELD_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class Later(SendError):
    """A broadcast the messenger's rules forbid now but allow `at` a known time (Zalo's
    promotional hours, its quota per day): it waits for that time, then goes; `reason` says
    why (handlers.types). Waiting does not use up its tries."""

    def __init__(self, reason: str, at: datetime) -> None:
        super().__init__(reason, counted=False)
        self.at = at


class FetchError(Exception):
    """A file could not be downloaded. `permanent` ones (unknown or expired file, too large)
    are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class Pace:
    """A channel's sending budget per second, shared by replies and broadcasts, replies
    first: a reply never waits for it but spends from it, and a broadcast waits until the
    budget has room again. So a worker chatting during a broadcast is answered at once, and
    the two together stay within the messenger's limit. It also keeps the least time between
    two messages to one chat, and a pause the messenger asked for (a 429's retry_after),
    which holds broadcasts back, not replies.

    `per_second` 0 means no limit (the channel's own speed is the limit)."""

    def __init__(
        self,
        per_second: float,
        chat_gap: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.chat_gap = chat_gap
        self.clock = clock
        # A moment's burst at most a tenth of a second's worth (at least one message).
        self.capacity = max(1.0, per_second / 10)
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._last: dict[str, float] = {}

    @property
    def limited(self) -> bool:
        return self.per_second > 0

    def _refill(self) -> None:
        now = self.clock()
        if self.limited:
            earned = (now - self._updated) * self.per_second
            self._tokens = min(self.capacity, self._tokens + earned)
        self._updated = now

    def spend(self, chat_id: str) -> None:
        """A reply goes now: it counts against the budget (never below a second's worth of
        debt) and against its chat's gap."""
        self._refill()
        if self.limited:
            self._tokens = max(self._tokens - 1, -self.per_second)
        self.note(chat_id)

    async def take(self, most: int) -> int:
        """Wait until broadcasts may send, then take up to `most` messages' worth (at least
        one); give back what is not used with `refund`."""
        while True:
            self._refill()
            wait = self._paused_until - self.clock()
            if wait <= 0 and (not self.limited or self._tokens >= 1):
                break
            if wait <= 0:
                wait = (1 - self._tokens) / self.per_second
            # Looked at again at least four times a second: a pause can be cut short.
            await asyncio.sleep(min(wait, 0.25))
        if not self.limited:
            return most
        taken = max(1, min(most, int(self._tokens)))
        self._tokens -= taken
        return taken

    def refund(self, count: int) -> None:
        if self.limited and count > 0:
            self._refill()
            self._tokens = min(self.capacity, self._tokens + count)

    def pause(self, seconds: float) -> None:
        """The messenger asked to wait (429 retry_after), or it is down: broadcasts wait
        that long."""
        self._paused_until = max(self._paused_until, self.clock() + max(seconds, 0.0))

    @property
    def paused(self) -> bool:
        return self._paused_until > self.clock()

    def note(self, chat_id: str) -> None:
        """A message went to this chat now."""
        if self.chat_gap <= 0:
            return
        now = self.clock()
        self._last.pop(chat_id, None)
        self._last[chat_id] = now
        # Oldest first: forget chats whose gap is over.
        while self._last:
            oldest, at = next(iter(self._last.items()))
            if now - at < self.chat_gap:
                break
            del self._last[oldest]

    def chat_wait(self, chat_id: str) -> float:
        """Seconds until this chat may get another message (0: now)."""
        last = self._last.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.chat_gap - self.clock())


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


class Broadcasting(Channel, Protocol):
    """A channel that carries broadcasts (bot/broadcaster.py): its rate limits, and a send
    that may refuse what the messenger's rules forbid for a broadcast (Unreachable with the
    reason) where a reply would still go."""

    pace: Pace

    async def broadcast(self, delivery: Delivery) -> None:
        """Send one broadcast message; raise SendError or Unreachable."""
        ...


def broadcasting(channel: Channel) -> Broadcasting | None:
    """The channel as a broadcasting one, if it is."""
    pace = getattr(channel, "pace", None)
    if isinstance(pace, Pace) and callable(getattr(channel, "broadcast", None)):
        return cast(Broadcasting, channel)
    return None


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


# -- webhook bodies ---------------------------------------------------------------------------

# An escaped NUL or half of a surrogate pair in a JSON body: the only ways either gets in.
ESCAPED = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def read_json(body: bytes) -> Any:
    """A webhook body's JSON, ready to store. ValueError when it is not JSON a database can
    hold: NaN and Infinity (Python reads them, PostgreSQL's JSONB does not) or nesting too deep
    to read. NUL characters are removed (PostgreSQL cannot store them) and lone surrogates, half
    an emoji, replaced with U+FFFD (nothing can encode them)."""
    try:
        data = json.loads(body, parse_constant=_not_json)
    except RecursionError as exc:
        raise ValueError("nested too deep") from exc
    return storable(data) if ESCAPED.search(body) else data


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def storable(value: Any) -> Any:
    """A JSON value with NUL removed and lone surrogates replaced in every string and key."""
    if isinstance(value, str):
        return usable_text(value.replace("\x00", ""))
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def usable_text(value: object) -> str | None:
    """A text field of a stored update as a handler may take it: None unless it is text, lone
    surrogates replaced with U+FFFD (updates stored before they were)."""
    if not isinstance(value, str):
        return None
    try:
        value.encode()
    except UnicodeEncodeError:
        # A pair written as two halves becomes its character again; a lone half becomes U+FFFD.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value
