"""The daily digest: once a day, each officer is told on their messenger what waits in their
queue, so nothing sits unseen between the alerts.

It counts, in the officer's queue exactly as /queue and the dashboard see it (their union and
the unions below it; everything for an admin: bot/services/access.py):
- new: requests nobody has taken yet (status new);
- overdue: open requests past their due time;
- waiting for their answer: requests assigned to them in which the worker had the last word
  (storage/cases.py `awaiting`): a request they took and did not answer yet, or the worker's
  answer since their last reply. Status alone cannot tell: a request stays "being handled"
  after the officer replies, when it waits for the worker, not for them.
and lists the most urgent of those requests by code, kind, category and due time, never who
sent them. An officer with nothing in any of the three is sent nothing.

Once a day per officer, whichever process gets there first: the officer's row is held (a
write) while their digest is decided, and the decision is written to the audit log in the
same transaction as the message's outbox row ("digest.sent", or "digest.empty" when there
was nothing to say, so the day is settled either way), with the local date in its detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services, access, alerts
from bot.services.i18n import N_, _, format_date, format_datetime
from handlers.payloads import OfficerAction
from handlers.types import Address, Button, Outgoing
from storage import audit, cases, officers
from storage.localtime import LOCAL_TIME, start_of_day
from storage.models import Case, Officer

SENT = "digest.sent"
EMPTY = "digest.empty"
DONE = (SENT, EMPTY)  # either settles the officer's day
URGENT = 5  # requests listed by code

TITLE = N_("Your requests today, {date}:")
NEW = N_("New in your queue: {count}")
OVERDUE = N_("Overdue: {count}")
WAITING = N_("Waiting for your answer: {count}")
MOST_URGENT = N_("Most urgent:")
SEE_ALL = N_("Send /queue to see your whole queue.")


@dataclass(frozen=True, slots=True)
class Summary:
    new: int
    overdue: int
    waiting: int
    urgent: Sequence[Case]  # the most urgent of those, at most URGENT

    def __bool__(self) -> bool:
        return bool(self.new or self.overdue or self.waiting)


async def summary(session: AsyncSession, officer: Officer, now: datetime) -> Summary:
    """What waits in the officer's queue now."""
    queue = (await access.scope(session, officer)).actionable()
    # The same "new" and "overdue" as the dashboard's saved views.
    new = cases.view_condition("new", officer.id, now)
    overdue = cases.view_condition("overdue", officer.id, now)
    waiting = cases.awaiting(officer.id)
    return Summary(
        new=await cases.count(session, and_(queue, new)),
        overdue=await cases.count(session, and_(queue, overdue)),
        waiting=await cases.count(session, and_(queue, waiting)),
        urgent=await cases.listing(
            session, and_(queue, or_(new, overdue, waiting)), now=now, open_only=True, limit=URGENT
        ),
    )


async def digest(
    session: AsyncSession, services: Services, officer: Officer, now: datetime
) -> list[Outgoing]:
    """The officer's digest, to their private chat; nothing when nothing waits for them."""
    found = await summary(session, officer, now)
    if not found or not officer.telegram_user_id:
        return []
    with services.catalogs.activate(services.settings.default_language):
        lines = [
            _(TITLE).format(date=format_date(now)),
            _(NEW).format(count=found.new),
            _(OVERDUE).format(count=found.overdue),
            _(WAITING).format(count=found.waiting),
            "",
            _(MOST_URGENT),
            *(_line(case, now) for case in found.urgent),
            "",
            _(SEE_ALL),
        ]
        # The same one-tap "view" as /queue's list.
        rows = tuple((Button(c.code, OfficerAction("view", c.id).pack()),) for c in found.urgent)
    to = Address(services.settings.officer_channel, str(officer.telegram_user_id))
    return [Outgoing(to, "\n".join(lines), rows)]


def _line(case: Case, now: datetime) -> str:
    due = case.due_at
    mark = "⚠️ " if due is not None and due < now else ""
    when = " · " + _("due {due}").format(due=format_datetime(due)) if due else ""
    return f"{mark}{alerts.title(case)}{when}"


async def daily(
    session: AsyncSession, services: Services, officer_id: int, now: datetime
) -> list[Outgoing]:
    """Today's digest for the officer, unless their day is settled already (in this or any
    process) or they were deactivated or unlinked meanwhile; the day is settled in the
    caller's transaction, which must write the returned messages in the same commit."""
    officer = await officers.hold(session, officer_id)
    if officer is None or not officer.active or not officer.telegram_user_id:
        return []
    if await audit.officers_since(session, DONE, start_of_day(now), officer_id):
        return []
    told = await digest(session, services, officer, now)
    audit.record(
        session, actor="system", officer_id=officer.id, action=SENT if told else EMPTY, now=now,
        detail={"date": now.astimezone(LOCAL_TIME).date().isoformat()},
    )  # fmt: skip
    return told
