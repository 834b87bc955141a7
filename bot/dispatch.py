"""Inbox row -> Incoming -> handler -> commit -> send.

The dispatcher is the inbox worker: it takes pending updates in arrival order, turns each
into an Incoming through its channel, picks the handler (button, command, active flow, free
text), and writes the state changes, the effects, the outbox rows and the inbox row's
"processed" mark in one transaction. Only after the commit are the replies handed to the
sender. A crash anywhere before the commit leaves the update pending, so it is processed
again on restart; after the commit it is never processed twice.

Updates are processed one at a time in id order, so one person's messages are handled in the
order they arrived. For throughput, a batch of updates shares one transaction; if anything in
the batch fails, the batch is rolled back and redone one update per transaction, so one bad
update cannot hold back the others.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import handlers
from bot.channels.base import Channel, Delivery
from bot.logs import describe
from bot.services import Services
from bot.services.flood import FloodGuard, Verdict
from bot.services.i18n import _
from handlers import menu
from handlers.alerts import OFFICER_CHANNEL
from handlers.types import (
    MAX_PAYLOAD_BYTES,
    MAX_TEXT,
    Address,
    Context,
    Handler,
    Incoming,
    Outgoing,
    StaleButton,
)
from storage import conversations, inbox, officers, outbox, people
from storage.db import Database
from storage.models import Conversation, Person

log = logging.getLogger(__name__)

PAYLOAD = re.compile(r"^[a-z]+:[A-Za-z0-9_.:-]*$")
IDLE_POLL_SECONDS = 2.0
RETRY_PAUSE_SECONDS = 1.0


def pick(msg: Incoming, state: Mapping[str, object]) -> Handler:
    """The handler for a message: button, command, active flow, else free text."""
    if msg.payload is not None:
        handler = handlers.BUTTONS.get(msg.payload.partition(":")[0])
        if handler is None:
            raise StaleButton(msg.payload)
        return handler
    text = (msg.text or "").strip()
    flow = state.get("flow")
    if not text:
        # A photo or sticker in the middle of a form is that form's business.
        if isinstance(flow, str) and flow in handlers.FLOWS:
            return handlers.FLOWS[flow]
        return handlers.UNSUPPORTED
    if text.startswith("/"):
        # "/start@UnionBot arg" in Telegram group syntax is still /start.
        name = text[1:].split(maxsplit=1)[0].partition("@")[0].lower() if len(text) > 1 else ""
        return handlers.COMMANDS.get(name, handlers.UNKNOWN_COMMAND)
    if isinstance(flow, str) and flow in handlers.FLOWS:
        return handlers.FLOWS[flow]
    return handlers.FALLBACK


def valid_payload(payload: str) -> bool:
    return len(payload.encode()) <= MAX_PAYLOAD_BYTES and PAYLOAD.match(payload) is not None


class Dispatcher:
    """Processes the inbox of some channels; one per process and database."""

    def __init__(
        self,
        database: Database,
        services: Services,
        channels: Mapping[str, Channel],
        on_outgoing: Callable[[Sequence[Delivery]], None],
        batch_size: int = 100,
    ) -> None:
        self.db = database
        self.services = services
        self.channels = channels
        self.on_outgoing = on_outgoing
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._acks: set[asyncio.Task[None]] = set()
        self.flood = FloodGuard(services.settings.flood_limit_per_minute)

    # -- the worker loop ---------------------------------------------------------------

    def wake(self) -> None:
        """New updates were stored: process them soon."""
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once everything stored so far has been processed."""
        await self._idle.wait()

    async def run(self) -> None:
        """Process pending updates until cancelled; wakes on wake() or every few seconds
        (the latter picks up updates stored by another process)."""
        while True:
            self._wake.clear()
            try:
                processed = await self.process_pending()
            except Exception as exc:  # the loop must survive a database outage
                log.error("inbox worker failed, retrying: %s", describe(exc))
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            if processed == 0:
                if not self._wake.is_set():
                    self._idle.set()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def process_pending(self) -> int:
        """Process one batch of pending updates; returns how many were taken."""
        names = list(self.channels)
        async with self.db.writing(), self.db.sessions() as session:
            items = await inbox.pending(session, names, self.batch_size)
            if not items:
                return 0
            try:
                results = await self._process(session, items)
                await session.commit()
            except Exception as exc:
                await session.rollback()
                log.warning(
                    "batch of %d failed (%s); redoing one by one", len(items), describe(exc)
                )
                results = None
        if results is None:
            await self._process_one_by_one([item.id for item in items])
        else:
            await self._after_commit(results)
        return len(items)

    async def _process_one_by_one(self, ids: Sequence[int]) -> None:
        for item_id in ids:
            results, gave_up = None, False
            async with self.db.writing(), self.db.sessions() as session:
                items = await inbox.pending(session, list(self.channels), only=item_id)
                if not items:
                    continue
                try:
                    results = await self._process(session, items)
                    await session.commit()
                except Exception as exc:
                    await session.rollback()
                    gave_up = await self._record_failure(session, items[0], exc)
            if results is not None:
                await self._after_commit(results)
            elif not gave_up:
                # Stop here: the next pass retries this update before any later one, so this
                # person's messages stay in order.
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return

    async def _record_failure(
        self, session: AsyncSession, item: inbox.Pending, exc: Exception
    ) -> bool:
        now = self.services.clock()
        log.error("update %d failed: %s", item.id, describe(exc))
        gave_up = await inbox.record_failure(session, item.id, type(exc).__name__, now)
        apology = await self._apology(session, item.channel, item.payload, now) if gave_up else None
        await session.commit()
        if apology is not None:
            self.on_outgoing([apology])
        return gave_up

    async def _apology(
        self, session: AsyncSession, channel_name: str, payload: dict[str, object], now: datetime
    ) -> Delivery | None:
        """After giving up on an update, tell the person, so they are not left waiting."""
        try:
            msg = self.channels[channel_name].to_incoming(payload)  # type: ignore[arg-type]
        except Exception:
            return None
        if msg is None:
            return None
        person = await people.find(session, msg.channel, msg.user_id)
        language = person.language if person else self.services.settings.default_language
        with self.services.catalogs.activate(language):
            text = _("Sorry, something went wrong with your last message. Please try again.")
        reply = Outgoing(Address(msg.channel, msg.chat_id, person.id if person else None), text)
        [delivery] = await store_replies(session, [reply], now)
        return delivery

    async def _after_commit(self, done: Processed) -> None:
        if done.deliveries:
            self.on_outgoing(done.deliveries)
        for msg in done.acks:
            task = asyncio.create_task(self._acknowledge(msg))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)

    async def _acknowledge(self, msg: Incoming) -> None:
        try:
            await self.channels[msg.channel].acknowledge(msg)
        except Exception as exc:  # only a spinner on the person's screen depends on it
            log.info("could not acknowledge a button press: %s", describe(exc))

    async def close(self) -> None:
        """Let acknowledgements in flight finish."""
        if self._acks:
            await asyncio.wait(set(self._acks), timeout=5)

    # -- one update --------------------------------------------------------------------

    async def _process(self, session: AsyncSession, items: Sequence[inbox.Pending]) -> Processed:
        """Handle a batch of updates in the session's transaction, in arrival order."""
        now = self.services.clock()
        parsed = [(item, self.channels[item.channel].to_incoming(item.payload)) for item in items]
        msgs = [msg for _item, msg in parsed if msg is not None]
        batch = await Batch.load(session, msgs)
        replies = [reply for msg in msgs for reply in await self.handle(session, msg, now, batch)]
        deliveries = await store_replies(session, replies, now)
        await inbox.finish(session, [item.id for item, msg in parsed if msg is not None], now)
        ignored = [item.id for item, msg in parsed if msg is None]
        await inbox.finish(session, ignored, now, status="ignored")
        return Processed(deliveries, [msg for msg in msgs if msg.ack is not None])

    async def _officer_button(self, session: AsyncSession, msg: Incoming) -> bool:
        if not (msg.payload or "").startswith("o:") or msg.channel != OFFICER_CHANNEL:
            return False
        return await officers.by_telegram(session, msg.user_id) is not None

    async def handle(
        self, session: AsyncSession, msg: Incoming, now: datetime, batch: Batch | None = None
    ) -> list[Outgoing]:
        """Run the right handler for one message; the caller commits.

        Refusals (over-long text, a flood, forged or stale buttons) change nothing: no person
        is created, no state is saved.
        """
        if batch is None:
            batch = await Batch.load(session, [msg])
        key = (msg.channel, msg.user_id)
        person = batch.people.get(key)
        language = person.language if person else self.services.settings.default_language
        with self.services.catalogs.activate(language):
            address = Address(msg.channel, msg.chat_id, person.id if person else None)
            if msg.text is not None and len(msg.text) > MAX_TEXT:
                return [menu.too_long(address)]
            if msg.text and "\x00" in msg.text:
                # PostgreSQL cannot store NUL in text or JSON; no channel may bring it in.
                msg = replace(msg, text=msg.text.replace("\x00", ""))
            # Counted by when the person sent it: a backlog after downtime is not a flood.
            verdict = self.flood.check(key, msg.sent_at or now)
            if verdict is Verdict.DROP:
                return []
            if verdict is Verdict.WARN:
                return [menu.slow_down(address)]
            if msg.numbered is not None:
                row = batch.conversations.get(person.id) if person else None
                msg = handlers.read_number(msg, row.state if row is not None else {})
            if msg.payload is not None and (
                not valid_payload(msg.payload)
                or (person is None and not await self._officer_button(session, msg))
            ):
                # A button press from someone we never wrote to is forged (officers excepted:
                # case alerts reach them, in a group too, before they ever write).
                return [menu.stale(address)]
            first_contact = person is None
            if person is None:
                person = batch.people[key] = await people.create(
                    session, msg.channel, msg.user_id, language, now
                )
                address = Address(msg.channel, msg.chat_id, person.id)
            row = batch.conversations.get(person.id)
            before: dict[str, Any] = row.state if row is not None else {}
            # A deep copy: the row's value must stay as loaded, or a change inside a nested
            # list or dict would compare equal to it and never be written.
            state = copy.deepcopy(before)
            ctx = Context(session, person, state, self.services, now, address, first_contact)
            try:
                # Repositories flush where they need ids (people.create, cases.open); autoflush
                # would also write the batch's earlier outbox rows before every query.
                with session.no_autoflush:
                    replies = await pick(msg, state)(ctx, msg)
            except StaleButton:
                return [menu.stale(address)]
            if ctx.state != before:
                conversations.put(session, batch.conversations, person.id, ctx.state, now)
            return replies


@dataclass(slots=True)
class Batch:
    """What a batch of messages needs from the database, loaded in two queries instead of
    two per message. People created while the batch runs are added to it."""

    people: dict[tuple[str, str], Person]
    conversations: dict[int, Conversation]

    @classmethod
    async def load(cls, session: AsyncSession, msgs: Sequence[Incoming]) -> Batch:
        found = await people.find_many(session, {(m.channel, m.user_id) for m in msgs})
        rows = await conversations.rows(session, [p.id for p in found.values()])
        return cls(found, rows)


@dataclass(frozen=True, slots=True)
class Processed:
    """What a committed batch leaves to do: messages to send, button presses to acknowledge."""

    deliveries: list[Delivery]
    acks: list[Incoming]


async def store_replies(
    session: AsyncSession, replies: Sequence[Outgoing], now: datetime
) -> list[Delivery]:
    """Write replies to the outbox (in the caller's transaction) and return them ready to
    send once it commits."""
    rows = [
        outbox.message(
            channel=r.to.channel,
            chat_id=r.to.chat_id,
            text=r.text,
            buttons=[[[b.label, b.payload] for b in row] for row in r.buttons],
            person_id=r.to.person_id,
            now=now,
        )
        for r in replies
    ]
    ids = await outbox.add(session, rows)
    return [
        Delivery(id_, r.to.channel, r.to.chat_id, r.text,
                 tuple(tuple((b.label, b.payload) for b in row) for row in r.buttons))
        for id_, r in zip(ids, replies, strict=True)
    ]  # fmt: skip
