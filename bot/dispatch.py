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
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import handlers
from bot.channels.base import Channel
from bot.logs import describe
from bot.services import Services
from bot.services.i18n import _
from handlers import menu
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
from storage import conversations, inbox, people
from storage.db import Database
from storage.models import InboxItem, OutboxItem

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
    if not text:
        return handlers.UNSUPPORTED
    if text.startswith("/"):
        # "/start@UnionBot arg" in Telegram group syntax is still /start.
        name = text[1:].split(maxsplit=1)[0].partition("@")[0].lower() if len(text) > 1 else ""
        return handlers.COMMANDS.get(name, handlers.UNKNOWN_COMMAND)
    flow = state.get("flow")
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
        on_outgoing: Callable[[Sequence[OutboxItem]], None],
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
            ids = [item.id for item in items]
            try:
                results = [await self._process(session, item) for item in items]
                await session.commit()
            except Exception as exc:
                await session.rollback()
                log.warning("batch of %d failed (%s); redoing one by one", len(ids), describe(exc))
                results = None
        if results is None:
            await self._process_one_by_one(ids)
        else:
            await self._after_commit(results)
        return len(ids)

    async def _process_one_by_one(self, ids: Sequence[int]) -> None:
        for item_id in ids:
            result = None
            async with self.db.writing(), self.db.sessions() as session:
                item = await session.get(InboxItem, item_id)
                if item is None or item.status != "pending":
                    continue
                try:
                    result = await self._process(session, item)
                    await session.commit()
                except Exception as exc:
                    await session.rollback()
                    gave_up = await self._record_failure(session, item_id, exc)
            if result is not None:
                await self._after_commit([result])
            elif not gave_up:
                # Stop here: the next pass retries this update before any later one, so this
                # person's messages stay in order.
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return

    async def _record_failure(self, session: AsyncSession, item_id: int, exc: Exception) -> bool:
        now = self.services.clock()
        log.error("update %d failed: %s", item_id, describe(exc))
        item = await session.get(InboxItem, item_id)
        payload = dict(item.payload) if item is not None and item.payload else None
        gave_up = await inbox.record_failure(session, item_id, type(exc).__name__, now)
        apology = None
        if gave_up and payload is not None:
            apology = await self._apology(session, item.channel, payload, now)  # type: ignore[union-attr]
        await session.commit()
        if apology is not None:
            self.on_outgoing([apology])
        return gave_up

    async def _apology(
        self, session: AsyncSession, channel_name: str, payload: dict[str, object], now: datetime
    ) -> OutboxItem | None:
        """After giving up on an update, tell the person, so they are not left waiting."""
        try:
            msg = self.channels[channel_name].to_incoming(payload)  # type: ignore[arg-type]
        except Exception:
            return None
        if msg is None:
            return None
        person = await people.find(session, msg.channel, msg.user_id)
        with self.services.catalogs.activate(person.language if person else "vi"):
            text = _("Sorry, something went wrong with your last message. Please try again.")
        row = OutboxItem(
            person_id=person.id if person else None,
            channel=msg.channel,
            chat_id=msg.chat_id,
            text=text,
            buttons=[],
            created_at=now,
            attempts=0,
            failed=False,
        )
        session.add(row)
        return row

    async def _after_commit(
        self, results: Sequence[tuple[list[OutboxItem], Incoming | None]]
    ) -> None:
        rows = [row for batch, _msg in results for row in batch]
        if rows:
            self.on_outgoing(rows)
        for _rows, msg in results:
            if msg is not None and msg.ack is not None:
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

    async def _process(
        self, session: AsyncSession, item: InboxItem
    ) -> tuple[list[OutboxItem], Incoming | None]:
        now = self.services.clock()
        channel = self.channels[item.channel]
        msg = channel.to_incoming(item.payload or {})
        if msg is None:
            inbox.mark_processed(item, now, status="ignored")
            return [], None
        replies = await self.handle(session, msg, now)
        rows = [to_outbox(reply, now) for reply in replies]
        session.add_all(rows)
        inbox.mark_processed(item, now)
        return rows, msg

    async def handle(self, session: AsyncSession, msg: Incoming, now: datetime) -> list[Outgoing]:
        """Run the right handler for one message; the caller commits.

        Refusals (over-long text, forged or stale buttons) change nothing: no person is
        created, no state is saved.
        """
        person = await people.find(session, msg.channel, msg.user_id)
        language = person.language if person else self.services.settings.default_language
        with self.services.catalogs.activate(language):
            address = Address(msg.channel, msg.chat_id, person.id if person else None)
            if msg.text is not None and len(msg.text) > MAX_TEXT:
                return [menu.too_long(address)]
            if msg.payload is not None and (person is None or not valid_payload(msg.payload)):
                # A button press from someone we never wrote to is forged.
                return [menu.stale(address)]
            first_contact = person is None
            if person is None:
                person = await people.create(session, msg.channel, msg.user_id, language, now)
                address = Address(msg.channel, msg.chat_id, person.id)
                state: dict[str, object] = {}
            else:
                state = await conversations.load(session, person.id)
            before = copy.deepcopy(state)
            ctx = Context(session, person, state, self.services, now, address, first_contact)
            try:
                replies = await pick(msg, state)(ctx, msg)
            except StaleButton:
                return [menu.stale(address)]
            if ctx.state != before:
                await conversations.save(session, person.id, ctx.state, now)
            return replies


def to_outbox(reply: Outgoing, now: datetime) -> OutboxItem:
    return OutboxItem(
        person_id=reply.to.person_id,
        channel=reply.to.channel,
        chat_id=reply.to.chat_id,
        text=reply.text,
        buttons=[[[b.label, b.payload] for b in row] for row in reply.buttons],
        created_at=now,
        attempts=0,
        failed=False,
    )
