"""Who is alive, and which process performs the duties only one may perform at a time.

Any number of `unionbot serve` processes may share one PostgreSQL database. Each holds a
liveness lease named after itself (storage/leases.py), renewed every third of
UNIONBOT_LEASE_SECONDS: while it is alive nobody takes over the messages it is sending
(storage/outbox.py). One of them also holds the `duties` lease and runs the duties: the
broadcaster, the evidence fetcher, the SLA watch, the janitor, the digest and Telegram long
polling. A process that stops gives its leases up, so another takes the duties at its next
renewal; one that dies loses them when they run out, within UNIONBOT_LEASE_SECONDS.

A leader that cannot renew (the database is away) stops its duties before its lease can
have run out, so two processes never run them at once, as long as the machines' clocks
agree to within a few seconds (leases are written in wall-clock time).

While the database is away every lease runs out, also those of the processes still alive.
So after a renewal of its own failed, a process takes a lease that ran out for its
holder's death only once it has renewed without a miss for a whole lease's time again
(`steady`): by then every living process has renewed too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from bot.logs import describe
from storage import leases
from storage.db import Database

log = logging.getLogger(__name__)

DUTIES = "duties"
# A leader stops its duties once this share of its lease passed without a renewal.
STOP_SHARE = 0.7

Duty = Callable[[], Awaitable[object]]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Leadership:
    def __init__(
        self,
        database: Database,
        identity: str,
        seconds: float,
        duties: Mapping[str, Duty],
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.db = database
        self.identity = identity
        self.seconds = seconds
        self.duties = dict(duties)
        self.clock = clock
        self._running: dict[str, asyncio.Task[object]] = {}
        self._renewed_at: float | None = None  # monotonic time of the last good renewal
        self._missed = False  # whether the last renewal failed
        self._steady_from = 0.0  # monotonic time from which the renewals count as steady

    @property
    def leading(self) -> bool:
        return bool(self._running)

    @property
    def steady(self) -> bool:
        """Whether this process's renewals have all worked for a lease's time since one
        last failed (or since it started): only then is another process's lease that ran
        out a sign that it died, not that the database was away (a takeover of a living
        process's messages would send them twice)."""
        return not self._missed and time.monotonic() >= self._steady_from

    async def begin(self) -> None:
        """Register this process as alive, and take the duties if nobody holds them; before
        it sends anything, so no other process takes its messages for a dead one's."""
        await self.renew()

    async def run(self) -> None:
        """Renew until cancelled; start or stop the duties as the lease comes and goes."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            await self.renew()

    async def renew(self) -> None:
        """One renewal: both leases in one transaction, then the duties started or stopped."""
        now = self.clock()
        until = now + timedelta(seconds=self.seconds)
        try:
            async with self.db.writing(), self.db.sessions() as session:
                await leases.take(
                    session, leases.PROCESS + self.identity, self.identity, now, until
                )
                leader = await leases.take(session, DUTIES, self.identity, now, until)
                await session.commit()
        except Exception as exc:
            log.warning("could not renew this process's leases: %s", describe(exc))
            self._missed = True
            if self.leading and self._overdue():
                log.warning("stopping the duties: the duties lease may have run out")
                await self.stop_duties()
            return
        self._renewed_at = time.monotonic()
        if self._missed:
            self._missed = False
            self._steady_from = self._renewed_at + self.seconds
        if leader and not self.leading:
            log.info("this process now performs the duties (%s)", ", ".join(self.duties))
            self._start_duties()
        elif not leader and self.leading:
            log.warning("another process took the duties over")
            await self.stop_duties()

    def _overdue(self) -> bool:
        renewed = self._renewed_at
        return renewed is None or time.monotonic() - renewed > self.seconds * STOP_SHARE

    def _start_duties(self) -> None:
        for name, duty in self.duties.items():
            self._running[name] = asyncio.create_task(self._perform(name, duty), name=name)

    @staticmethod
    async def _perform(name: str, duty: Duty) -> object:
        try:
            return await duty()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a duty's own loop should not end; say so if it does
            log.error("duty %s stopped: %s", name, describe(exc))
            return None

    async def stop_duties(self, names: Collection[str] | None = None) -> None:
        """Stop these duties (all by default) until the lease is taken again."""
        running = {n: t for n, t in self._running.items() if names is None or n in names}
        for name in running:
            del self._running[name]
        for task in running.values():
            task.cancel()
        for task in running.values():
            with suppress(asyncio.CancelledError):
                await task

    async def end(self) -> None:
        """Stop the duties and give both leases up, so another process takes over at once."""
        await self.stop_duties()
        try:
            async with self.db.writing(), self.db.sessions() as session:
                now = self.clock()
                await leases.give_up(session, DUTIES, self.identity, now)
                await leases.give_up(session, leases.PROCESS + self.identity, self.identity, now)
                await session.commit()
        except Exception as exc:  # the leases then run out by themselves
            log.warning("could not give this process's leases up: %s", describe(exc))
