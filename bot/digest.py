"""The daily digest's clock: from the hour UNIONBOT_DIGEST_HOUR (Vietnam time) each day, every
active officer with a linked Telegram account gets their digest (bot/services/digest.py says
what it holds and how each officer's day is settled once, across processes).

It checks every few minutes (CHECK_SECONDS). Before the hour nothing happens; from the hour
to midnight each check takes the officers whose day is not settled yet, so a process started
at 09:00 for a 07:00 digest sends that day's at once, and a second process finds it done.
Each officer is one unit of work: the digest's outbox row and the audit entry that settles the
day commit together, and one officer's failure leaves the others to be told.
"""

from __future__ import annotations

import logging
from datetime import date

from bot.logs import describe
from bot.outbox import Sender
from bot.services import Services, digest
from storage import audit, officers
from storage.localtime import LOCAL_TIME, start_of_day

log = logging.getLogger(__name__)

CHECK_SECONDS = 300.0


class Digest:
    def __init__(self, services: Services, sender: Sender) -> None:
        self.services = services
        self.sender = sender
        # The local day every officer was settled on, by this process: later checks that day
        # need not read the audit log again. (Officers linked later that day wait for the next.)
        self._settled: date | None = None

    async def run_once(self) -> int:
        """Send the digests due now and not sent yet; how many went."""
        hour = self.services.settings.digest_hour
        now = self.services.clock()
        today = now.astimezone(LOCAL_TIME).date()
        if hour is None or now.astimezone(LOCAL_TIME).hour < hour or self._settled == today:
            return 0
        async with self.sender.work() as work:
            settled = await audit.officers_since(work.session, digest.DONE, start_of_day(now))
            due = [o.id for o in await officers.linked(work.session) if o.id not in settled]
        sent, failed = 0, False
        for officer_id in due:
            try:
                async with self.sender.work() as work:
                    told = await digest.daily(work.session, self.services, officer_id, work.now)
                    work.send(told)
            except Exception as exc:
                log.error("the daily digest of officer %d failed: %s", officer_id, describe(exc))
                failed = True
                continue
            sent += len(told)
        if not failed:
            self._settled = today
        if sent:
            log.info("sent %d daily digests", sent)
        return sent
