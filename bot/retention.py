"""The janitor: what is kept longer than it is needed is deleted or made anonymous.

Workers report their employer, and whatever the database keeps past its use is something
that can leak or be joined back to a worker. Every few minutes (CHECK_SECONDS) the janitor
removes, a batch at a time:
- updates handled (or ignored, or given up) more than UNIONBOT_KEEP_INBOX_DAYS ago; pending
  ones never;
- messages sent (or given up) more than UNIONBOT_KEEP_SENT_DAYS ago; in the web chat after
  UNIONBOT_KEEP_WEBCHAT_DAYS, since its page reads them back as its history (so that is how
  far back the history reaches); messages still to be sent never; numbered options shown
  in a chat (storage/choices.py) after CHOICES_DAYS, or the next day for a chat whose person
  erased their data;
- forms left past their expiry (handlers/forms.py, 7 days), open or set aside, with their
  files: the worker gets the notice they would get on writing again; and conversations
  nobody touched for as long (handlers/registry.py STATE_LIFETIME), such as a question kept
  for "Ask a union officer";
- web chat visitors who left nothing to follow (no case, anonymous or not, no consent, no
  conversation) UNIONBOT_KEEP_VISITOR_DAYS after they last wrote, with the messages sent
  to them;
- who filed a finished case, its sealed contact details, PIN and files,
  UNIONBOT_KEEP_CLOSED_CASE_DAYS after it was closed; the case, its thread and its audit
  entries stay (storage/cases.py `scrub_closed`);
- who a finished broadcast went to (one row per recipient) UNIONBOT_KEEP_BROADCAST_DAYS after
  it ended (a poll's, not before its answers close); its counts by outcome stay for its
  report (storage/broadcasts.py `prune`).
A period of 0 keeps that kind of data. Each kind is one short unit of work of plain
DELETE/UPDATE statements with a cut-off, so a second process doing the same at the same
time only finds less to do. Logs give counts, never whose.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import timedelta
from functools import partial

from bot.logs import describe
from bot.outbox import Sender, Work
from bot.services import Services, drafts, polls, reporters
from handlers import registry
from handlers.types import Address
from storage import (
    broadcasts,
    cases,
    choices,
    conversations,
    evidence,
    inbox,
    officers,
    outbox,
    people,
    promotions,
)
from storage.localtime import LOCAL_TIME, start_of_day
from storage.models import Person

log = logging.getLogger(__name__)

CHECK_SECONDS = 300.0
# A number typed back picks from options shown at most this long ago (a messenger's reply
# window is a week at most).
CHOICES_DAYS = 7
# The web chat's channel (bot/channels/webchat.py): its messages and visitors have periods
# of their own.
WEB = "web"


@dataclass(frozen=True, slots=True)
class Swept:
    """How many went in one run, of each kind."""

    inbox: int = 0
    sent: int = 0
    states: int = 0
    visitors: int = 0
    cases: int = 0
    sessions: int = 0  # dashboard sessions ended and link codes expired
    deliveries: int = 0  # who finished broadcasts went to


Step = Callable[[Work], Awaitable[int]]


class Janitor:
    def __init__(self, services: Services, sender: Sender) -> None:
        self.services = services
        self.sender = sender

    async def run_once(self) -> Swept:
        """One pass over everything kept past its time; how many of each went."""
        swept = Swept(
            inbox=await self._step("inbox", self.prune_inbox),
            sent=await self._step("outbox", self.prune_sent),
            states=await self._step("conversations", self.expire_states),
            visitors=await self._step("visitors", self.forget_visitors),
            cases=await self._step("cases", self.scrub_cases),
            sessions=await self._step("sessions", self.forget_sessions),
            deliveries=await self._step("deliveries", self.prune_deliveries),
        )
        if any(astuple(swept)):
            log.info(
                "retention: %d handled updates, %d sent messages, %d conversations and %d "
                "web chat visitors deleted; %d finished cases made anonymous; %d sessions "
                "and link codes ended; %d broadcast deliveries deleted",
                swept.inbox, swept.sent, swept.states, swept.visitors, swept.cases,
                swept.sessions, swept.deliveries,
            )  # fmt: skip
        return swept

    async def _step(self, name: str, step: Step) -> int:
        """One kind of data in a unit of work of its own: one failing leaves the others."""
        try:
            async with self.sender.work() as work:
                return await step(work)
        except Exception as exc:
            log.error("retention of %s failed: %s", name, describe(exc))
            return 0

    async def prune_inbox(self, work: Work) -> int:
        days = self.services.settings.retention.inbox_days
        if not days:
            return 0
        return await inbox.prune(work.session, work.now - timedelta(days=days))

    async def prune_sent(self, work: Work) -> int:
        retention = self.services.settings.retention
        pruned = 0
        if retention.sent_days:
            before = work.now - timedelta(days=retention.sent_days)
            pruned += await outbox.prune(work.session, before, other_than=[WEB])
        if retention.webchat_days:
            before = work.now - timedelta(days=retention.webchat_days)
            pruned += await outbox.prune(work.session, before, channels=[WEB])
        # Options shown to someone who erased their data go the next day.
        await choices.prune(
            work.session, work.now - timedelta(days=CHOICES_DAYS), start_of_day(work.now)
        )
        return pruned

    async def expire_states(self, work: Work) -> int:
        """Forms past their expiry, and conversations untouched as long, out of the state."""
        session, now = work.session, work.now
        untouched_before = now - registry.STATE_LIFETIME
        rows = await conversations.due(session, registry.DRAFT_DEADLINES, now, untouched_before)
        done = 0
        for row in rows:
            person = await session.get(Person, row.person_id)
            if person is None:
                continue
            # A private chat: the chat is the person's own id on their channel.
            to = Address(person.channel, person.channel_user_id, person.id)
            untouched = row.updated_at < untouched_before
            with self.services.catalogs.activate(person.language):
                state = drafts.open_(self.services.vault, row.state)
                expired = registry.expire_draft(state, now, to, untouched=untouched)
            if expired is None:
                continue
            # Not written if the person wrote meanwhile: their own message decides then.
            stored = drafts.seal(self.services.vault, expired.state)
            if not await conversations.rewrite(session, row, stored, now):
                continue
            await evidence.discard(session, expired.files)
            work.send(expired.replies)
            done += 1
        return done

    async def forget_sessions(self, work: Work) -> int:
        """Ended dashboard sessions and expired /canbo link codes."""
        return await officers.forget_expired(work.session, work.now)

    async def forget_visitors(self, work: Work) -> int:
        days = self.services.settings.retention.visitor_days
        if not days:
            return 0
        # Anonymous cases carry no person id, only the tag made from it.
        tag = partial(reporters.tag, self.services.vault)
        return await people.forget_idle(work.session, WEB, work.now - timedelta(days=days), tag)

    async def scrub_cases(self, work: Work) -> int:
        days = self.services.settings.retention.closed_case_days
        if not days:
            return 0
        return await cases.scrub_closed(work.session, work.now - timedelta(days=days), work.now)

    async def prune_deliveries(self, work: Work) -> int:
        # Zalo's promotion quota looks back to the start of the month (Vietnam time), no
        # further: older counts are not needed.
        await promotions.prune(work.session, work.now.astimezone(LOCAL_TIME).date().replace(day=1))
        days = self.services.settings.retention.broadcast_days
        if not days:
            return 0
        # A poll's recipients may answer it for ANSWER_DAYS: who they are is kept as long.
        polls_before = work.now - timedelta(days=polls.ANSWER_DAYS)
        return await broadcasts.prune(
            work.session, work.now - timedelta(days=days), polls_before=polls_before
        )
