"""Flood control: one person sending faster than anyone types gets one polite notice, then
is not read until their rate drops. Kept in memory, one count per process: with several
`unionbot serve` processes on PostgreSQL, a person's messages may be handled by any of them
(one at a time, in order), so the limit holds per process, and a flood is slowed, not stopped
at exactly the limit. A shared count would cost a database round trip per message.

A message is counted once, however often it is handled: the inbox worker handles it again
when its transaction failed (a batch redone one by one, a database that was away or full),
and it must then get the verdict it got the first time, not count against its sender again.
"""

from __future__ import annotations

import enum
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"  # the first message over the limit: tell the person once
    DROP = "drop"  # further messages inside the window: not handled


class FloodGuard:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[tuple[str, str], deque[datetime]] = {}
        self._warned: set[tuple[str, str]] = set()
        # Verdicts on messages counted, by sender and message id, with when they were sent.
        self._verdicts: dict[tuple[str, str, str], tuple[Verdict, datetime]] = {}
        self._checks = 0

    def check(self, who: tuple[str, str], now: datetime, message: str = "") -> Verdict:
        """Count one message from `who` (`message`: its id, if it has one: a message seen
        before gets its verdict again); 0 per minute means no limit."""
        if self.per_minute <= 0:
            return Verdict.OK
        key = (*who, message)
        if message and key in self._verdicts:
            return self._verdicts[key][0]
        self._checks += 1
        if self._checks % 1000 == 0:
            self._forget_quiet(now)
        verdict = self._count(who, now)
        if message:
            self._verdicts[key] = (verdict, now)
        return verdict

    def _count(self, who: tuple[str, str], now: datetime) -> Verdict:
        times = self._seen.setdefault(who, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) < self.per_minute:
            times.append(now)
            self._warned.discard(who)
            return Verdict.OK
        if who in self._warned:
            return Verdict.DROP
        self._warned.add(who)
        return Verdict.WARN

    def _forget_quiet(self, now: datetime) -> None:
        quiet = [who for who, times in self._seen.items() if not times or now - times[-1] >= WINDOW]
        for who in quiet:
            del self._seen[who]
            self._warned.discard(who)
        old = [key for key, (_verdict, sent) in self._verdicts.items() if now - sent >= WINDOW]
        for key in old:
            del self._verdicts[key]
