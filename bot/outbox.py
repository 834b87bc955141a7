"""The outbox: the unit of work every path that sends uses, and the sender.

`Sender.work()` is the one unit of work: a session in a transaction (behind the database's
write gate), the caller's work, its replies written to the outbox table in the same
transaction (`write`), the commit, and only then the rows handed to the sender. The
dispatcher, its apology, the dashboard and the SLA watch all send this way, so a crash can
repeat a message but never lose one.

The sender delivers committed rows through their channels and marks them sent. Rows arrive
right after a unit of work commits (`queue`) and from a periodic scan of the outbox table,
which finds what a crash left unsent and what is due for a retry. Messages
to one chat go out in the order they were written, also when the messenger fails for a
while (a message waiting for a retry holds back the ones after it; one given up or held
until the person writes again does not); different chats go out concurrently.
A row stays "in flight" until its sent mark is committed, so the scan never sends it twice.

With several processes on one database each sends the rows it wrote (its `owner` mark); the
scan also takes over the rows of a process that died. A new message to a chat that still
has an earlier one on its way from another process is left to the scan, which sends it
after that one: so one chat's messages keep their order across processes too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import Channel, Delivery, Image, SendError, Unreachable, broadcasting
from bot.logs import describe
from bot.services import Services, casework, reach
from bot.services.crypto import Vault
from handlers.types import Outgoing
from storage import choices, outbox
from storage.db import Database
from storage.models import OutboxItem

log = logging.getLogger(__name__)

SCAN_SECONDS = 1.0
MAX_SCAN_ROUNDS = 10
MAX_EXCLUDED = 5000
# One process on SQLite gathers a moment's sent marks into one commit: fewer commits compete
# with the inbox for its single writer. With other processes the marks go at once (`_mark`).
FLUSH_DELAY_SECONDS = 0.1
# How soon marks that could not be committed (the database away) are tried again; until then
# the rows stay in flight here, so nobody sends them again.
MARK_RETRY_SECONDS = 1.0
MAX_CONCURRENT_SENDS = 64
# How soon a message waiting for another process's earlier one to its chat looks again.
TURN_POLL_SECONDS = 0.01
# How long (in leases) it waits at most before it goes anyway, out of order. A dead process's
# message is taken over within a few leases, even when leaders die one after another.
PATIENCE_LEASES = 10


@dataclass(slots=True)
class Work:
    """One unit of work in progress: its session and clock reading, and what it will send."""

    session: AsyncSession
    now: datetime
    replies: list[Outgoing] = field(default_factory=list)
    discarded: bool = False
    committed: list[Callable[[], object]] = field(default_factory=list)

    def send(self, replies: Iterable[Outgoing]) -> None:
        """Send these once the work commits (in the order given)."""
        self.replies.extend(replies)

    def discard(self) -> None:
        """Roll the work back instead of committing it; nothing is sent."""
        self.discarded = True

    def after_commit(self, action: Callable[[], object]) -> None:
        """Call this once the work has committed (never if it rolls back)."""
        self.committed.append(action)


def identity() -> str:
    """A name for this process, unique across machines and restarts (an outbox row's owner,
    a lease's holder)."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


async def write(
    session: AsyncSession,
    replies: Sequence[Outgoing],
    now: datetime,
    vault: Vault,
    owner: str | None = None,
) -> list[Delivery]:
    """Write replies to the outbox (in the caller's transaction), their text and buttons
    sealed (a receipt holds a case code and a PIN), and return them ready to send once it
    commits."""
    rows = [
        outbox.message(
            channel=r.to.channel,
            chat_id=r.to.chat_id,
            sealed=seal_body(
                vault,
                r.text,
                [[[b.label, b.payload] for b in row] for row in r.buttons],
                r.case_id,
                r.image,
            ),
            person_id=r.to.person_id,
            now=now,
            owner=owner,
        )
        for r in replies
    ]
    ids = await outbox.add(session, rows)
    return [
        Delivery(id_, r.to.channel, r.to.chat_id, r.text,
                 tuple(tuple((b.label, b.payload) for b in row) for row in r.buttons),
                 r.case_id, _image(id_, r.image))
        for id_, r in zip(ids, replies, strict=True)
    ]  # fmt: skip


def seal_body(
    vault: Vault,
    text: str,
    buttons: list[list[list[str]]],
    case_id: int | None = None,
    image: bytes | None = None,
) -> bytes:
    """Text, buttons, the case a message is about and its picture, sealed: the link from a
    chat to an anonymous case must not be readable in the table."""
    opened: dict[str, object] = {"text": text, "buttons": buttons}
    if case_id is not None:
        opened["case"] = case_id
    if image is not None:
        opened["image"] = base64.b64encode(image).decode()
    return vault.seal(json.dumps(opened, ensure_ascii=False))


def body(vault: Vault, row: OutboxItem) -> tuple[str, list[list[list[str]]]]:
    """A row's text and buttons: opened from `sealed`, or as stored by rows written before
    sealing (0009); empty once delivered and blanked."""
    opened = _opened(vault, row)
    return str(opened["text"]), list(opened["buttons"])


def _opened(vault: Vault, row: OutboxItem) -> dict[str, Any]:
    if row.sealed is None:
        return {"text": row.text, "buttons": row.buttons or []}
    opened: dict[str, Any] = json.loads(vault.open(row.sealed))
    return opened


def to_delivery(vault: Vault, row: OutboxItem) -> Delivery:
    opened = _opened(vault, row)
    case = opened.get("case")
    image = opened.get("image")
    return Delivery(
        id=row.id,
        channel=row.channel,
        chat_id=row.chat_id,
        text=str(opened["text"]),
        buttons=tuple(tuple((label, payload) for label, payload in r) for r in opened["buttons"]),
        case_id=case if isinstance(case, int) else None,
        image=_image(row.id, base64.b64decode(image) if isinstance(image, str) else None),
    )


def _image(row_id: int, content: bytes | None) -> Image | None:
    return Image(f"outbox-{row_id}", content) if content else None


async def remember_numbered(
    session: AsyncSession,
    vault: Vault,
    channels: Mapping[str, Channel],
    deliveries: Sequence[Delivery],
    now: datetime,
) -> None:
    """Options a channel shows as numbered lines, stored sealed with the messages (the last
    per chat wins, as it is the last shown), so a number typed back maps to them in any
    process, even the moment the message arrives. The caller commits before sending."""
    shown: dict[tuple[str, str], list[str]] = {}
    for delivery in deliveries:
        channel = channels.get(delivery.channel)
        options = channel.numbered(delivery) if channel is not None and delivery.buttons else []
        if options:
            shown[(delivery.channel, delivery.chat_id)] = options
    if shown:
        sealed = {key: vault.seal(json.dumps(options)) for key, options in shown.items()}
        await choices.show(session, sealed, now)


class Sender:
    def __init__(
        self,
        database: Database,
        services: Services,
        channels: Mapping[str, Channel],
        owner: str | None = None,
    ) -> None:
        self.db = database
        self.services = services
        self.channels = channels
        self.owner = owner or identity()
        # One process per SQLite database: no other sender's messages to wait for.
        self.alone = database.engine.dialect.name == "sqlite"
        # Whether this process takes over the messages of processes that died: one at a
        # time does, the one with the duties (bot/leadership.py), so two never send one
        # dead process's messages to a chat side by side.
        self.takes_over: Callable[[], bool] = lambda: True
        # Messages waiting for an earlier one to their chat to leave another process, by
        # chat, in order (`_await_turns`); later ones to that chat wait behind them.
        self._deferred: dict[tuple[str, str], list[Delivery]] = {}
        self._deferred_since: dict[tuple[str, str], float] = {}
        # Chats with a message waiting for a retry: later ones to them wait behind it.
        self._waiting_retry: set[tuple[str, str]] = set()
        self._inflight: set[int] = set()
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent: list[Delivery] = []
        self._flush_wake = asyncio.Event()
        self._marking = asyncio.Lock()
        self._marks_failing = False
        self._scanning = False
        # Counts scans begun and ended: a check of the order of sends that a scan overlapped
        # may have seen messages this process took over and has not queued yet (`_scan_free`).
        self._scan_moves = 0
        self._finished_during_scan: set[int] = set()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def work(self) -> AsyncIterator[Work]:
        """The unit of work: session → the caller's work → outbox rows → commit → queue.

        If the body raises, everything rolls back and nothing is sent.
        """
        async with self.db.writing(), self.db.sessions() as session:
            unit = Work(session, self.services.clock())
            yield unit
            if unit.discarded:
                await session.rollback()
                return
            deliveries = await write(
                session, unit.replies, unit.now, self.services.vault, self.owner
            )
            await remember_numbered(
                session, self.services.vault, self.channels, deliveries, unit.now
            )
            deliveries = await self._in_turn(session, deliveries, unit.now)
            await session.commit()
        self.queue(deliveries)
        for action in unit.committed:
            action()

    async def _in_turn(
        self, session: AsyncSession, deliveries: list[Delivery], now: datetime
    ) -> list[Delivery]:
        """The deliveries to send now: not those to a chat that another process still has an
        earlier message on its way to (they wait for it: `_await_turns`), nor those behind
        one already waiting."""
        if self.alone or not deliveries:
            return deliveries
        chats = {(d.channel, d.chat_id) for d in deliveries}
        moves = self._scan_moves
        fronts = await outbox.others_first(session, chats, self.owner, now)
        if not self._scan_free(moves):
            # Not to be trusted: all of them wait, and `_await_turns` looks again.
            fronts = dict.fromkeys(chats, 0)
        ready = []
        for d in deliveries:
            key = (d.channel, d.chat_id)
            if key in self._deferred or fronts.get(key, d.id) < d.id:
                if not self._deferred:
                    self._track(asyncio.create_task(self._await_turns()))
                self._deferred.setdefault(key, []).append(d)
                self._deferred_since.setdefault(key, time.monotonic())
            else:
                ready.append(d)
        return ready

    async def _await_turns(self) -> None:
        """While messages wait for earlier ones to their chats to leave other processes (be
        sent, given up or held; a dead process's are taken over by the process with the
        duties), look every moment which may go now, and send those. After PATIENCE_LEASES
        leases' time they go anyway: a late message is better than one held back for good.
        (Three leases were too few: with leaders killed one after another, the chaos bench saw
        takeovers come later and messages go out of order.)"""
        patience = self.services.settings.lease_seconds * PATIENCE_LEASES
        while self._deferred:
            await asyncio.sleep(TURN_POLL_SECONDS)
            # Only the chats asked about: one deferred while the query ran is not in its answer.
            asked = set(self._deferred)
            moves = self._scan_moves
            try:
                async with self.db.sessions() as session:
                    now = self.services.clock()
                    fronts = await outbox.others_first(session, asked, self.owner, now)
            except Exception as exc:
                log.warning("could not check the order of sends: %s", describe(exc))
                continue
            if not self._scan_free(moves):
                continue
            for chat in asked & self._deferred.keys():
                if time.monotonic() - self._deferred_since[chat] > patience:
                    log.warning("sending out of order after waiting %.0f s", patience)
                    self._turn(chat, None)
                else:
                    self._turn(chat, fronts.get(chat))

    def _stop_waiting(self, ids: set[int]) -> None:
        """These messages, taken by a scan, go with it in order (nothing another process
        holds was ahead of them, or the scan would not have taken them): they wait for
        their turn here no more, or `_await_turns` would send them a second time."""
        for chat, waiting in list(self._deferred.items()):
            rest = [d for d in waiting if d.id not in ids]
            if len(rest) == len(waiting):
                continue
            if rest:
                self._deferred[chat] = rest
            else:
                del self._deferred[chat]
                del self._deferred_since[chat]

    def _scan_free(self, moves: int) -> bool:
        """Whether no scan ran while a check of the order of sends begun at `moves` did. A
        scan commits the messages it takes over (a dead process's, or its own due for a
        retry) as this process's a moment before it queues them; a check in between would
        find no other process's message first and send a later one ahead of them."""
        return not self._scanning and moves == self._scan_moves

    def _turn(self, chat: tuple[str, str], front: int | None) -> None:
        """Send a chat's waiting messages written before `front` (another process's first
        message still on its way to it; None: all of them)."""
        waiting = self._deferred[chat]
        ready = [d for d in waiting if front is None or d.id < front]
        if not ready:
            return
        rest = waiting[len(ready) :]
        if rest:
            self._deferred[chat] = rest
            self._deferred_since[chat] = time.monotonic()
        else:
            del self._deferred[chat]
            del self._deferred_since[chat]
        self.queue(ready)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._check_idle()

    def queue(self, deliveries: Sequence[Delivery], *, scanned: bool = False) -> None:
        """Queue committed messages for sending, in order per chat. `scanned`: found due by
        the scan, which takes a chat's messages only from its first unsent one on, so a
        chat that waited for a retry may send again."""
        if scanned:
            self._waiting_retry.difference_update((d.channel, d.chat_id) for d in deliveries)
        for delivery in deliveries:
            if delivery.id in self._inflight or delivery.channel not in self.channels:
                continue
            self._inflight.add(delivery.id)
            self._idle.clear()
            key = (delivery.channel, delivery.chat_id)
            task = asyncio.create_task(self._send_after(self._tails.get(key), delivery))
            self._tails[key] = task
            self._tasks.add(task)
            task.add_done_callback(partial(self._done, key=key))

    def _done(self, task: asyncio.Task[None], key: tuple[str, str]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._inflight and not self._tasks:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once everything submitted so far is sent (or given up) and marked."""
        await self._idle.wait()

    async def _send_after(self, previous: asyncio.Task[None] | None, delivery: Delivery) -> None:
        if previous is not None:
            with suppress(BaseException):
                await asyncio.shield(previous)
        if (delivery.channel, delivery.chat_id) in self._waiting_retry:
            # An earlier message to this chat waits for a retry: this one goes after it, when
            # the scan finds both due (outbox.claim_due keeps that order).
            self._release([delivery.id])
            return
        async with self._limit:
            channel = self.channels[delivery.channel]
            fast = broadcasting(channel)
            if fast is not None:
                fast.pace.spend(delivery.chat_id)  # replies first: they never wait for it
            try:
                await channel.send(delivery)
            except Unreachable as exc:
                await self._held(delivery, str(exc))
                return
            except SendError as exc:
                await self._failed(
                    delivery,
                    str(exc),
                    exc.permanent,
                    exc.retry_after,
                    counted=exc.counted,
                    gone=exc.gone,
                )
                return
            except Exception as exc:
                await self._failed(delivery, describe(exc), False, None)
                return
        await self._mark(delivery)

    async def _mark(self, delivery: Delivery) -> None:
        """Note a delivery sent. With other processes on the database, commit the mark right
        away, with those of the sends that finished meanwhile: a process killed between a
        send and its mark has that send repeated by the one that takes over, so the moment
        is kept to one round trip. The next message to the chat waits for it (its task
        follows this one): after a crash at most one message per chat goes twice."""
        self._sent.append(delivery)
        if self.alone or self._marks_failing:
            self._flush_wake.set()
            return
        async with self._marking:
            # Empty when the flush before took this one's mark along.
            if self._sent:
                await self.flush()

    async def _held(self, delivery: Delivery, reason: str) -> None:
        """The messenger will not carry it now: keep it until the person writes again, and
        tell the officers of the case it answers."""
        try:
            async with self.work() as work:
                await outbox.hold(work.session, delivery.id, reason)
                if delivery.case_id is not None:
                    work.send(
                        await casework.undelivered(
                            work.session, self.services, delivery.case_id, reason, work.now
                        )
                    )
            log.info("send %d on %s held: %s", delivery.id, delivery.channel, reason)
        except Exception as exc:
            log.error("could not hold a message: %s", describe(exc))
        self._release([delivery.id])

    async def _failed(
        self,
        delivery: Delivery,
        reason: str,
        permanent: bool,
        retry_after: float | None,
        *,
        counted: bool = True,
        gone: bool = False,
    ) -> None:
        now = self.services.clock()
        try:
            async with self.db.writing(), self.db.sessions() as session:
                if gone:
                    await reach.gone_chat(session, delivery.channel, delivery.chat_id)
                gave_up = await outbox.record_failure(
                    session,
                    delivery.id,
                    reason,
                    now,
                    permanent=permanent,
                    retry_after=retry_after,
                    counted=counted,
                )
                await session.commit()
            if not gave_up:
                self._waiting_retry.add((delivery.channel, delivery.chat_id))
            log.warning(
                "send %d on %s failed%s: %s",
                delivery.id,
                delivery.channel,
                " for good" if gave_up else ", will retry",
                reason,
            )
        except Exception as exc:
            log.error("could not record a failed send: %s", describe(exc))
        self._release([delivery.id])

    def _release(self, ids: Sequence[int]) -> None:
        self._inflight.difference_update(ids)
        if self._scanning:
            self._finished_during_scan.update(ids)
        self._check_idle()

    async def flush(self) -> None:
        """Commit the sent marks collected so far, in one statement. Marks that could not be
        committed stay to be tried again (`run_flusher`): released, their rows would be sent
        again by a scan, though the messenger has them."""
        if not self._sent:
            return
        sent, self._sent = self._sent, []
        ids = [d.id for d in sent]
        # Delivered: the messenger holds the message now; we keep neither text nor chat,
        # except for a channel that reads its history from here.
        forget = [d.id for d in sent if not self._keeps_history(d.channel)]
        try:
            async with self.db.statement() as connection:
                await outbox.mark_sent(connection, ids, self.services.clock(), forget)
        except Exception as exc:
            log.error("could not mark %d messages sent: %s", len(ids), describe(exc))
            self._sent[:0] = sent
            self._marks_failing = True
            self._flush_wake.set()
            return
        self._marks_failing = False
        self._release(ids)

    def _keeps_history(self, channel: str) -> bool:
        found = self.channels.get(channel)
        return bool(found is not None and found.keeps_history)

    async def scan(self) -> int:
        """Submit unsent rows that are due (after a crash, or for a retry); how many new.
        A claim that came back full is followed by another at once: a process that died may
        have left hundreds of messages that chats wait behind."""
        fresh = claimed = await self._scan_once()
        for _round in range(MAX_SCAN_ROUNDS - 1):
            if claimed[0] < outbox.CLAIM_LIMIT or not claimed[1]:
                break
            claimed = await self._scan_once()
            fresh = (fresh[0], fresh[1] + claimed[1])
        return fresh[1]

    async def _scan_once(self) -> tuple[int, int]:
        """One claim: how many rows it took, and how many of them were not in flight here."""
        self._scanning = True
        self._scan_moves += 1
        self._finished_during_scan = set()
        try:
            async with self.db.writing(), self.db.sessions() as session:
                now = self.services.clock()
                # Not again what is in flight here (within reason: it is a list of ids).
                busy = self._inflight if len(self._inflight) <= MAX_EXCLUDED else ()
                rows = await outbox.claim_due(
                    session, list(self.channels), now, self.owner,
                    take_over=self.takes_over(), exclude=busy,
                )  # fmt: skip
                await session.commit()
                deliveries = [to_delivery(self.services.vault, r) for r in rows]
        finally:
            self._scanning = False
            self._scan_moves += 1
        skip = self._inflight | self._finished_during_scan
        fresh = [d for d in deliveries if d.id not in skip]
        self._stop_waiting({d.id for d in fresh})
        self.queue(fresh, scanned=True)
        return len(rows), len(fresh)

    async def run_flusher(self) -> None:
        """Commit the marks on SQLite (gathered for a moment), and those that failed."""
        while True:
            await self._flush_wake.wait()
            await asyncio.sleep(MARK_RETRY_SECONDS if self._marks_failing else FLUSH_DELAY_SECONDS)
            self._flush_wake.clear()
            async with self._marking:
                await self.flush()

    async def run_scanner(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as exc:
                log.error("outbox scan failed: %s", describe(exc))
            await asyncio.sleep(SCAN_SECONDS)

    async def close(self, grace: float = 10.0) -> None:
        """Let sends in flight finish, then mark them (what cannot be marked now is sent
        again by the process that takes over: a repeat, never a loss)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        async with self._marking:
            await self.flush()
