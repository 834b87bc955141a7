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
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import Channel
from bot.logs import database_full, describe
from bot.outbox import Sender, Work
from bot.services import Services, drafts, reach
from bot.services.flood import FloodGuard, Verdict
from bot.services.i18n import _
from handlers import payloads, registry
from handlers.types import (
    LEFT,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT,
    Address,
    Context,
    Handler,
    Incoming,
    Outgoing,
    StaleButton,
)
from storage import conversations, inbox, officers, people
from storage.models import Conversation, Person

log = logging.getLogger(__name__)

PAYLOAD = re.compile(r"^[a-z]+:[A-Za-z0-9_.:-]*$")
IDLE_POLL_SECONDS = 2.0
RETRY_PAUSE_SECONDS = 1.0


def pick(msg: Incoming, state: Mapping[str, object]) -> Handler:
    """The handler for a message: button, command, active flow, else free text (or for an
    event such as following the account: its own)."""
    if msg.event is not None:
        return registry.EVENTS.get(msg.event, registry.IGNORE)
    if msg.payload is not None:
        handler = registry.BUTTONS.get(payloads.namespace(msg.payload))
        if handler is None:
            raise StaleButton(msg.payload)
        return handler
    text = (msg.text or "").strip()
    flow = state.get("flow")
    if not text:
        # A photo or sticker in the middle of a form is that form's business.
        if isinstance(flow, str) and flow in registry.FLOWS:
            return registry.FLOWS[flow]
        return registry.UNSUPPORTED
    if text.startswith("/"):
        # "/start@UnionBot arg" in Telegram group syntax is still /start.
        name = text[1:].split(maxsplit=1)[0].partition("@")[0].lower() if len(text) > 1 else ""
        return registry.COMMANDS.get(name, registry.UNKNOWN_COMMAND)
    if isinstance(flow, str) and flow in registry.FLOWS:
        return registry.FLOWS[flow]
    return registry.FALLBACK


def valid_payload(payload: str) -> bool:
    return len(payload.encode()) <= MAX_PAYLOAD_BYTES and PAYLOAD.match(payload) is not None


class Dispatcher:
    """Processes the inbox of some channels; one per process and database."""

    def __init__(
        self,
        services: Services,
        channels: Mapping[str, Channel],
        sender: Sender,
        batch_size: int = 100,
    ) -> None:
        self.services = services
        self.channels = channels
        self.sender = sender
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
        """Process one batch of pending updates in one unit of work; returns how many were
        taken."""
        taken: list[inbox.Pending] = []
        try:
            async with self.sender.work() as work:
                taken = list(await inbox.claim(work.session, list(self.channels), self.batch_size))
                acks = await self._process(work, taken) if taken else []
        except Exception as exc:
            if not taken:
                raise  # the database, not an update: run() retries
            log.warning("batch of %d failed (%s); redoing one by one", len(taken), describe(exc))
            await self._process_one_by_one([item.id for item in taken])
            return len(taken)
        self._acknowledge_all(acks)
        return len(taken)

    async def _process_one_by_one(self, ids: Sequence[int]) -> None:
        for item_id in ids:
            taken: list[inbox.Pending] = []
            try:
                async with self.sender.work() as work:
                    taken = list(await inbox.claim(work.session, list(self.channels), only=item_id))
                    acks = await self._process(work, taken) if taken else []
            except Exception as exc:
                if database_full(exc):
                    # Not the update's fault: it is not counted towards giving it up.
                    log.error("update %d waits for room: %s", item_id, describe(exc))
                elif taken and await self._record_failure(taken[0], exc):
                    continue
                # Stop here: the next pass retries this update before any later one, so this
                # person's messages stay in order.
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return
            self._acknowledge_all(acks)

    async def _record_failure(self, item: inbox.Pending, exc: Exception) -> bool:
        """Count a failed try; after the last one, apologise to the person. Whether it gave up."""
        log.error("update %d failed: %s", item.id, describe(exc))
        try:
            return await self._count_failure(item, exc, apologise=True)
        except Exception as failure:
            # Not even the apology could be written: count the try without it, or the same
            # update would come back first every time and hold up everyone after it.
            log.error("could not apologise for update %d: %s", item.id, describe(failure))
            return await self._count_failure(item, exc, apologise=False)

    async def _count_failure(self, item: inbox.Pending, exc: Exception, apologise: bool) -> bool:
        async with self.sender.work() as work:
            gave_up = await inbox.record_failure(
                work.session, item.id, type(exc).__name__, work.now
            )
            if gave_up and apologise:
                work.send(await self._apology(work.session, item.channel, item.payload))
        return gave_up

    async def _apology(
        self, session: AsyncSession, channel_name: str, payload: dict[str, object]
    ) -> list[Outgoing]:
        """After giving up on an update, tell the person, so they are not left waiting."""
        try:
            msg = self.channels[channel_name].to_incoming(payload)
        except Exception:
            return []
        if msg is None:
            return []
        person = await people.find(session, msg.channel, msg.user_id)
        language = person.language if person else self.services.settings.default_language
        with self.services.catalogs.activate(language):
            text = _("Sorry, something went wrong with your last message. Please try again.")
        return [Outgoing(Address(msg.channel, msg.chat_id, person.id if person else None), text)]

    def _acknowledge_all(self, msgs: Sequence[Incoming]) -> None:
        for msg in msgs:
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

    async def _process(self, work: Work, items: Sequence[inbox.Pending]) -> list[Incoming]:
        """Handle a batch of updates in the unit of work, in arrival order; the button presses
        to acknowledge once it commits."""
        session, now = work.session, work.now
        parsed = [(item, self.channels[item.channel].to_incoming(item.payload)) for item in items]
        msgs = [msg for _item, msg in parsed if msg is not None]
        batch = await Batch.load(session, msgs)
        for msg in msgs:
            work.send(await self.handle(session, msg, now, batch))
        await inbox.finish(session, [item.id for item, msg in parsed if msg is not None], now)
        ignored = [item.id for item, msg in parsed if msg is None]
        await inbox.finish(session, ignored, now, status="ignored")
        return [msg for msg in msgs if msg.ack is not None]

    async def _may_press_first(self, session: AsyncSession, msg: Incoming) -> bool:
        """A button press from someone the bot holds nothing about is forged, except an entry
        point anyone may press (the menu: after /xoadulieu the person is gone) and an
        officer's button (case alerts reach them, in a group too, before they ever write)."""
        if registry.public_button(msg.payload or ""):
            return True
        on_channel = msg.channel == self.services.settings.officer_channel
        if not on_channel or not registry.officer_button(msg.payload or ""):
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
        person = batch.people.get((msg.channel, msg.user_id))
        language = person.language if person else self.services.settings.default_language
        with self.services.catalogs.activate(language):
            address = Address(msg.channel, msg.chat_id, person.id if person else None)
            refused = self._refusal(msg, address, now)
            if refused is not None:
                return refused
            if msg.text and "\x00" in msg.text:
                # PostgreSQL cannot store NUL in text or JSON; no channel may bring it in.
                msg = replace(msg, text=msg.text.replace("\x00", ""))
            if msg.numbered is not None:
                row = batch.conversations.get(person.id) if person else None
                msg = registry.read_number(msg, self._state(row))
            if msg.payload is not None and (
                not valid_payload(msg.payload)
                or (person is None and not await self._may_press_first(session, msg))
            ):
                return [registry.STALE(address)]
            return await self._run(session, msg, now, batch, language)

    def _refusal(self, msg: Incoming, address: Address, now: datetime) -> list[Outgoing] | None:
        """What to answer instead of handling: too long, or too many too fast; else None."""
        if msg.text is not None and len(msg.text) > MAX_TEXT:
            return [registry.TOO_LONG(address)]
        # Counted by when the person sent it: a backlog after downtime is not a flood; and
        # once: a message handled again after a failed transaction is not counted again.
        verdict = self.flood.check((msg.channel, msg.user_id), msg.sent_at or now, msg.external_id)
        if verdict is Verdict.DROP:
            return []
        if verdict is Verdict.WARN:
            return [registry.SLOW_DOWN(address)]
        return None

    async def _run(
        self, session: AsyncSession, msg: Incoming, now: datetime, batch: Batch, language: str
    ) -> list[Outgoing]:
        """The handler itself, with the person (created on first contact) and their state."""
        key = (msg.channel, msg.user_id)
        person = batch.people.get(key)
        first_contact = person is None
        if msg.event == LEFT:
            # Unfollowed or blocked: nothing more goes to them until they write again.
            if person is not None:
                reach.gone(person)
            return []
        if person is None:
            person = batch.people[key] = await people.create(
                session, msg.channel, msg.user_id, language, now
            )
        await reach.heard(session, self.services.vault, person, msg.sent_at or now)
        address = Address(msg.channel, msg.chat_id, person.id)
        row = batch.conversations.get(person.id)
        before = self._state(row)
        # A deep copy: the row's value must stay as loaded, or a change inside a nested list
        # or dict would compare equal to it and never be written.
        state = copy.deepcopy(before)
        ctx = Context(session, person, state, self.services, now, address, first_contact)
        try:
            # Repositories flush where they need ids (people.create, cases.open); autoflush
            # would also write the batch's earlier outbox rows before every query.
            with session.no_autoflush:
                replies = await pick(msg, state)(ctx, msg)
        except StaleButton:
            return [registry.STALE(address)]
        if ctx.erased:
            return await self._erase(session, batch, key, replies)
        if ctx.state != before:
            stored = drafts.seal(self.services.vault, ctx.state)
            conversations.put(session, batch.conversations, person.id, stored, now)
        return replies

    def _state(self, row: Conversation | None) -> dict[str, Any]:
        """A person's state as handlers read it (its personal parts are sealed at rest)."""
        return drafts.open_(self.services.vault, row.state) if row is not None else {}

    async def _erase(
        self,
        session: AsyncSession,
        batch: Batch,
        key: tuple[str, str],
        replies: list[Outgoing],
    ) -> list[Outgoing]:
        """After /xoadulieu: the person and their conversation rows go; the confirmation is
        still sent, linked to nobody."""
        person = batch.people.pop(key)
        batch.conversations.pop(person.id, None)
        await session.flush()
        await people.delete_person(session, person.id)
        session.expunge(person)
        return [replace(r, to=replace(r.to, person_id=None)) for r in replies]


@dataclass(slots=True)
class Batch:
    """What a batch of messages needs from the database, loaded in one query instead of
    two per message. People created while the batch runs are added to it."""

    people: dict[tuple[str, str], Person]
    conversations: dict[int, Conversation]

    @classmethod
    async def load(cls, session: AsyncSession, msgs: Sequence[Incoming]) -> Batch:
        return cls(*await conversations.of_people(session, {(m.channel, m.user_id) for m in msgs}))
