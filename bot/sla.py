"""The SLA watch: cases left past their due time move up to the parent union.

Every few minutes it takes the open cases whose due time passed more than the grace period
ago (UNIONBOT_SLA_GRACE_HOURS) in any union that has a parent, and escalates each: the
parent union owns it (the first union keeps read access to a membership request only), its
officers get the alert, the
worker is told their request is still being handled, and the case gets a new first-response
due time at the new union, so it does not climb again at once. Cases already at the root
federation stay overdue and highlighted on the dashboard.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot.outbox import Sender
from bot.services import Services, calendar, casework
from bot.services.i18n import N_
from storage import cases
from storage.models import Case, Union

log = logging.getLogger(__name__)

CHECK_SECONDS = 300.0
BATCH = 100  # cases moved per check; the next check takes the rest
STILL_HANDLED = N_(
    "Your request {code} is still being handled. It has been passed to {union} so that it "
    "is answered sooner."
)


class SlaWatch:
    def __init__(self, services: Services, sender: Sender) -> None:
        self.services = services
        self.sender = sender

    async def run_once(self) -> int:
        """Escalate what is overdue beyond the grace period; how many cases moved."""
        grace = timedelta(hours=self.services.settings.sla_grace_hours)
        async with self.sender.work() as work:
            session, now = work.session, work.now
            with_parent = (
                await session.scalars(select(Union.id).where(Union.parent_id.is_not(None)))
            ).all()
            late = await cases.listing(
                session, Case.union_id.in_(with_parent), open_only=True,
                due_before=now - grace, limit=BATCH,
            )  # fmt: skip
            for case in late:
                _parent, told = await casework.pass_up(
                    session, self.services, case, now, message=STILL_HANDLED
                )
                first_days = self.services.settings.due_days[case.kind][0]
                case.due_at = calendar.add_working_days(now, first_days, self.services.holidays)
                work.send(told)
        if late:
            log.info("escalated %d overdue cases", len(late))
        return len(late)
