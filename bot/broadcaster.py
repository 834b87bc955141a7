"""The broadcaster: delivers broadcasts to their recipients as fast as each messenger allows,
at most once each, without slowing down replies to workers who are chatting.

- Each second a tick starts the broadcasts whose time has come (outside quiet hours): their
  recipients are fixed as one delivery row each (storage/broadcasts.py), unique per
  broadcast and person. It also finishes the broadcasts with nothing left to send and
  records as `uncertain` the claims of a process that died mid-send.
- One loop per broadcasting channel takes from the channel's budget (Pace: replies spend
  from it first), claims that many due rows and commits the claim before sending, so a row
  is never sent twice, across restarts and processes (PostgreSQL: SKIP LOCKED); after a
  crash a claimed row may or may not have gone, and is reported, not sent again.
- Sends run concurrently; their outcomes are written in batches. A 429 pauses the channel's
  broadcasts for as long as the messenger asked (replies keep going); 5xx and network errors
  are retried with backoff up to MAX_ATTEMPTS; a blocked bot marks the person unreachable;
  when sends to several different chats fail in a row with none sent between, the messenger
  is down, not the recipients: its broadcasts pause, longer each time, and those tries do
  not count towards giving up, so an outage of hours skips nobody;
  a recipient the messenger's rules forbid now (Zalo's window) is recorded with the reason;
  one they allow later (Zalo's promotional hours) waits, pending with the reason, until then.
- A broadcast's image is read once per broadcast and goes with every delivery; the channel
  uploads it once and sends it by reference (Telegram's file_id, Zalo's attachment_id). A
  photo and a text sent as two messages are still one delivery: if the photo went and the
  text did not, the row is `failed` with the reason `partly_sent`, never sent again.
- A quick poll (bot/services/polls.py) goes with one button per answer; where the channel
  shows them as numbered lines (Zalo), they are remembered with the claim, as the outbox
  does for replies, so the number typed back is the answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import (
    Broadcasting,
    Channel,
    Delivery,
    Image,
    Later,
    PartlySent,
    SendError,
    Unreachable,
    broadcasting,
)
from bot.logs import describe
from bot.outbox import Sender, remember_numbered
from bot.services import broadcasts as service
from bot.services import polls, reach
from handlers.types import NOT_FOLLOWING
from storage import broadcasts
from storage.broadcasts import Claimed
from storage.outbox import backoff

log = logging.getLogger(__name__)

# Rows of (label, payload) buttons, as a Delivery carries them.
Buttons = tuple[tuple[tuple[str, str], ...], ...]

TICK_SECONDS = 1.0
IDLE_SECONDS = 0.5
# Rows claimed at once when the budget allows (no limit, or paid broadcasts).
BATCH = 100
MAX_IN_FLIGHT = 64
FLUSH_SECONDS = 0.05
# How long a claim is held before another process may take it as abandoned.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
# Transient failures for this many different chats in a row, none sent between: an outage.
OUTAGE_CHATS = 3


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one send went: a final status, or "pending" to retry at `retry_at`."""

    id: int
    status: str
    reason: str | None = None
    retry_at: datetime | None = None
    counted: bool = True
    # The private chat whose person blocked the bot.
    gone: tuple[str, str] | None = None


class Broadcaster:
    """Delivers the broadcasts of one process (any number of processes on PostgreSQL)."""

    def __init__(
        self,
        sender: Sender,
        channels: Mapping[str, Channel],
        *,
        owner: str | None = None,
        alone: bool = False,
    ) -> None:
        self.sender = sender
        self.services = sender.services
        self.channels = channels
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        # Any claim not this one's is a dead process's: SQLite has one process, and with
        # several, one at a time broadcasts (`alone`: bot/leadership.py's duties).
        self.alone = alone or sender.db.engine.dialect.name == "sqlite"
        # (broadcast, language) -> its text and buttons (a poll's answers).
        self._texts: dict[tuple[int, str], tuple[str, Buttons]] = {}
        # broadcast -> its image (None: it has none), read once.
        self._images: dict[int, Image | None] = {}
        self._outcomes: list[Outcome] = []
        # channel -> the chats whose sends failed since its last success, and how many
        # outage pauses it has had since then (each longer).
        self._failing: dict[str, set[str]] = {}
        self._outages: dict[str, int] = {}
        self._flush_wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._sends: set[asyncio.Task[None]] = set()
        # Set by close(): the loops end between two steps, never inside a transaction.
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    def senders(self) -> list[Broadcasting]:
        found = (broadcasting(channel) for channel in self.channels.values())
        return [channel for channel in found if channel is not None]

    async def run(self) -> None:
        """Until cancelled: the tick, the outcome writer and one loop per channel."""
        loops = [self._every(TICK_SECONDS, self.tick), self._flusher()]
        loops += [self._deliver(channel) for channel in self.senders()]
        self._loops = [asyncio.create_task(loop) for loop in loops]
        try:
            await asyncio.gather(*self._loops)
        finally:
            for task in self._loops:
                task.cancel()

    async def _every(self, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        while not self._stopping.is_set():
            try:
                await job()
            except Exception as exc:
                log.error("broadcast tick failed: %s", describe(exc))
            await self._pause(seconds)

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less if the broadcaster is closing."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- starting and finishing ----------------------------------------------------------

    async def tick(self) -> list[int]:
        """Recover abandoned claims, start due broadcasts (not in quiet hours), finish the
        ones with nothing left; the ids started."""
        started: list[int] = []
        async with self.sender.work() as work:
            session, now = work.session, work.now
            other_than = self.owner if self.alone else None
            lost = await broadcasts.recover(session, now, other_than=other_than)
            if lost:
                log.warning("%d broadcast messages were being sent when a process stopped", lost)
            if service.quiet_until(now, self.services.settings.quiet_hours) is None:
                for broadcast_id in await broadcasts.due(session, now):
                    broadcast = await broadcasts.get(session, broadcast_id)
                    if broadcast is None:
                        continue
                    audience = service.Audience.of(broadcast)
                    filters = await service.filters(session, audience)
                    total = await broadcasts.start(session, broadcast_id, filters, now)
                    log.info("broadcast %d started: %d recipients", broadcast_id, total)
                    started.append(broadcast_id)
            for done in await broadcasts.finish(session, now):
                log.info("broadcast %d done", done)
                self._images.pop(done, None)  # up to 1 MB each: not kept once done
                work.send(await service.finished(session, self.services, done, now))
        return started

    # -- delivering ---------------------------------------------------------------------

    async def _deliver(self, channel: Broadcasting) -> None:
        while not self._stopping.is_set():
            try:
                if not await self.deliver_some(channel):
                    await self._pause(IDLE_SECONDS)
            except Exception as exc:
                log.error("broadcast delivery on %s failed: %s", channel.name, describe(exc))
                await self._pause(IDLE_SECONDS)

    async def deliver_some(self, channel: Broadcasting) -> int:
        """Wait for the channel's budget, claim that many due rows and start sending them;
        how many were claimed (0: nothing due, or quiet hours)."""
        now = self.services.clock()
        quiet = service.quiet_until(now, self.services.settings.quiet_hours)
        if quiet is not None:
            await self._pause(min(60.0, (quiet - now).total_seconds()))
            return 0
        taken = await channel.pace.take(BATCH)
        if self._stopping.is_set():
            channel.pace.refund(taken)
            return 0
        claimed = await self._claim(channel.name, taken)
        channel.pace.refund(taken - len(claimed))
        for item in claimed:
            await self._slots.acquire()
            task = asyncio.create_task(self._send(channel, item))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return len(claimed)

    async def _claim(self, channel: str, count: int) -> list[Claimed]:
        async with self.sender.work() as work:
            claimed = await broadcasts.claim(
                work.session, channel, count, owner=self.owner, now=work.now, lease=LEASE
            )
            for item in claimed:
                await self._load_text(work.session, item)
            # A poll's answers shown as numbered lines (Zalo) are remembered with the claim,
            # committed before the send, so the number typed back is the answer.
            asking = [d for d in (self._delivery(channel, i) for i in claimed) if d and d.buttons]
            await remember_numbered(
                work.session, self.services.vault, self.channels, asking, work.now
            )
        return claimed

    async def _load_text(self, session: AsyncSession, item: Claimed) -> None:
        key = (item.broadcast_id, item.language)
        if key not in self._texts:
            broadcast = await broadcasts.get(session, item.broadcast_id)
            if broadcast is not None:
                text = service.text_for(self.services, broadcast, item.language)
                answers = polls.buttons(broadcast.id, broadcast.poll_options or ())
                rows = tuple(tuple((b.label, b.payload) for b in row) for row in answers)
                self._texts[key] = (text, rows)
        if item.broadcast_id not in self._images:
            content = await broadcasts.image(session, item.broadcast_id)
            image = Image(f"broadcast-{item.broadcast_id}", content) if content else None
            self._images[item.broadcast_id] = image

    def _delivery(self, channel: str, item: Claimed) -> Delivery | None:
        """The message for a claimed row (None if its broadcast could not be read)."""
        found = self._texts.get((item.broadcast_id, item.language))
        if found is None:
            return None
        text, buttons = found
        # A negative id: never confused with an outbox row's.
        image = self._images.get(item.broadcast_id)
        return Delivery(-item.id, channel, item.chat_id, text, buttons, image=image)

    async def _send(self, channel: Broadcasting, item: Claimed) -> None:
        try:
            outcome = await self._try(channel, item)
        except Exception as exc:  # never lose a claimed row's outcome
            outcome = self._transient(channel, item, describe(exc))
        finally:
            self._slots.release()
        self._outcomes.append(outcome)
        self._flush_wake.set()

    async def _try(self, channel: Broadcasting, item: Claimed) -> Outcome:
        now = self.services.clock()
        wait = channel.pace.chat_wait(item.chat_id)
        if wait > 0:  # the chat just got a reply: its turn comes a moment later
            later = now + timedelta(seconds=wait)
            return Outcome(item.id, "pending", retry_at=later, counted=False)
        delivery = self._delivery(channel.name, item)
        if delivery is None:
            return Outcome(item.id, "failed", reason="no_text")
        channel.pace.note(item.chat_id)
        try:
            await channel.broadcast(delivery)
        except PartlySent:
            # The image arrived: sending again would show it twice.
            return Outcome(item.id, "failed", reason="partly_sent")
        except Later as exc:
            # Not now, by the messenger's rules (Zalo's promotional hours): pending, with
            # the reason on the progress page, until the time it may go.
            return Outcome(item.id, "pending", str(exc), exc.at, counted=False)
        except Unreachable as exc:
            # Zalo said they unfollowed: the next broadcast knows it before trying.
            gone = (channel.name, item.chat_id) if str(exc) == NOT_FOLLOWING else None
            return Outcome(item.id, "unreachable", reason=str(exc), gone=gone)
        except SendError as exc:
            if exc.gone:
                return Outcome(item.id, "unreachable", "blocked", gone=(channel.name, item.chat_id))
            if exc.retry_after is not None:
                channel.pace.pause(exc.retry_after)
                retry_at = now + timedelta(seconds=exc.retry_after)
                return Outcome(item.id, "pending", "rate_limited", retry_at, counted=False)
            if exc.permanent:
                return Outcome(item.id, "failed", reason=str(exc))
            return self._transient(channel, item, str(exc))
        self._failing.pop(channel.name, None)
        self._outages.pop(channel.name, None)
        return Outcome(item.id, "sent")

    def _transient(self, channel: Broadcasting, item: Claimed, reason: str) -> Outcome:
        """A failure that may pass: try again later, or give up after MAX_ATTEMPTS; during
        an outage of the messenger, pause it and try again after, not counted."""
        failing = self._failing.setdefault(channel.name, set())
        failing.add(item.chat_id)
        if len(failing) >= OUTAGE_CHATS:
            return self._outage(channel, item, reason)
        tries = item.attempts + 1
        if tries >= MAX_ATTEMPTS:
            return Outcome(item.id, "failed", reason=f"gave_up: {reason}")
        retry_at = self.services.clock() + backoff(tries)
        return Outcome(item.id, "pending", reason=reason, retry_at=retry_at)

    def _outage(self, channel: Broadcasting, item: Claimed, reason: str) -> Outcome:
        # The sends in flight when it began fail too: one pause for them all.
        level = self._outages.get(channel.name, 0)
        if not channel.pace.paused:
            level = self._outages[channel.name] = level + 1
            channel.pace.pause(backoff(level).total_seconds())
        retry_at = self.services.clock() + backoff(level)
        return Outcome(item.id, "pending", reason=reason, retry_at=retry_at, counted=False)

    # -- writing outcomes ---------------------------------------------------------------

    async def _flusher(self) -> None:
        while not self._stopping.is_set():
            await self._flush_wake.wait()
            await asyncio.sleep(FLUSH_SECONDS)
            self._flush_wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write the outcomes gathered so far in one transaction; kept for the next try if it
        fails (the claims' leases keep the rows from anyone else meanwhile)."""
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        try:
            async with self.sender.work() as work:
                await record(work.session, outcomes, work.now)
        except Exception as exc:
            log.error("could not record %d broadcast sends: %s", len(outcomes), describe(exc))
            self._outcomes[:0] = outcomes
            self._flush_wake.set()
            await asyncio.sleep(1.0)

    async def close(self, grace: float = 10.0) -> None:
        """Stop claiming, let sends in flight finish and write their outcomes."""
        self._stopping.set()
        self._flush_wake.set()
        if self._loops:
            await asyncio.wait(self._loops, timeout=grace)
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=grace)
        with suppress(Exception):
            await self.flush()


async def record(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write outcomes: one statement per kind of outcome, and the people who blocked the bot
    marked unreachable."""
    groups: dict[tuple[str, str | None, datetime | None, bool], list[int]] = {}
    for outcome in outcomes:
        # Whole seconds, rounded up (never before its time), so retries share a statement.
        retry = _whole_second(outcome.retry_at) if outcome.retry_at else None
        key = (outcome.status, outcome.reason, retry, outcome.counted)
        groups.setdefault(key, []).append(outcome.id)
    for (status, reason, retry_at, counted), ids in groups.items():
        await broadcasts.settle(
            session,
            ids,
            status,
            now,
            reason=reason,
            retry_at=retry_at,
            counted=counted,
        )
    for outcome in outcomes:
        if outcome.gone is not None:
            await reach.gone_chat(session, *outcome.gone)


def _whole_second(moment: datetime) -> datetime:
    if moment.microsecond == 0:
        return moment
    return moment.replace(microsecond=0) + timedelta(seconds=1)
