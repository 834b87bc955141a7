"""The membership funnel: arrivals → questions asked → membership interest → contacted →
admitted, by month, for outreach links, for the unions that made them, and overall; with
the conversion at each step, the pace the plan's next target asks for, and the plan's
coverage: unions in 85% of the enterprises with 25 or more workers.

Arrivals and questions are counted as they happen (storage/outreach.py: people, once each);
the later steps come from the membership requests the reader may open: filed (interest),
first answered by an officer (contacted), the worker confirmed as admitted. Each step is
counted in the month it happened, so a month's row is what happened in it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outreach, statistics
from storage.localtime import LOCAL_TIME

STEPS = ("arrival", "question", "interest", "contacted", "admitted")


@dataclass(slots=True)
class Funnel:
    """Counts per month ('2026-12') and step."""

    months: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, month: str, step: str, n: int = 1) -> None:
        row = self.months.setdefault(month, dict.fromkeys(STEPS, 0))
        row[step] += n

    @property
    def totals(self) -> dict[str, int]:
        return {step: sum(row[step] for row in self.months.values()) for step in STEPS}

    def conversions(self) -> dict[str, float | None]:
        """Each step as a share of the one before it (None where that one is 0)."""
        totals = self.totals
        shares: dict[str, float | None] = {}
        for before, step in itertools.pairwise(STEPS):
            shares[step] = totals[step] / totals[before] if totals[before] else None
        return shares

    def ordered(self) -> list[tuple[str, dict[str, int]]]:
        return sorted(self.months.items())


def request_steps(item: outreach.Interest) -> Iterable[tuple[str, str]]:
    """(month, step) for what a membership request has gone through."""
    yield statistics.month_of(item.filed), "interest"
    if item.answered is not None:
        yield statistics.month_of(item.answered), "contacted"
    if (admitted := statistics.admitted_on(item.details)) is not None:
        yield f"{admitted:%Y-%m}", "admitted"


async def by_link(
    session: AsyncSession, link_ids: Collection[int], where: ColumnElement[bool]
) -> dict[int, Funnel]:
    """The funnel of each link: its arrivals and questions, and the membership requests of
    workers who came through it that `where` lets the reader open."""
    funnels = {link_id: Funnel() for link_id in link_ids}
    for row in await outreach.counts(session, link_ids):
        funnels[row.link_id].add(row.month, row.step, row.count)
    for item in await outreach.interests(session, where, link_ids) if link_ids else ():
        if item.link_id in funnels:
            for month, step in request_steps(item):
                funnels[item.link_id].add(month, step)
    return funnels


async def overall(session: AsyncSession, where: ColumnElement[bool]) -> Funnel:
    """Everyone, whichever way they came: every arrival and question, and the membership
    requests `where` lets the reader open (for the whole federation: all of them)."""
    funnel = Funnel()
    for row in await outreach.counts(session, [outreach.EVERYONE]):
        funnel.add(row.month, row.step, row.count)
    for item in await outreach.interests(session, where):
        for month, step in request_steps(item):
            funnel.add(month, step)
    return funnel


def combined(funnels: Iterable[Funnel]) -> Funnel:
    """Several funnels added up (a union's links)."""
    total = Funnel()
    for funnel in funnels:
        for month, row in funnel.months.items():
            for step, n in row.items():
                total.add(month, step, n)
    return total


@dataclass(frozen=True, slots=True)
class Pace:
    """What the plan's next target asks of the months left, against the admissions of the
    last months."""

    year: int
    target: int
    members: int
    per_month_needed: int
    per_month_lately: float  # admissions through the bot, the last LATELY months on average


LATELY = 3


def pace(
    targets: Mapping[int, int], members: int, admitted: Iterable[date], now: datetime
) -> Pace | None:
    """The pace to the first target still ahead of `members` (None when none is)."""
    today = now.astimezone(LOCAL_TIME).date()
    ahead = [(year, n) for year, n in sorted(targets.items()) if year >= today.year and n > members]
    if not ahead:
        return None
    year, target = ahead[0]
    months_left = (year - today.year) * 12 + (12 - today.month) + 1
    first = _months_back(today, LATELY)
    lately = sum(1 for day in admitted if first <= day <= today)
    return Pace(year, target, members, math.ceil((target - members) / months_left), lately / LATELY)


def _months_back(today: date, months: int) -> date:
    """The first day of the month `months - 1` months before today's (3: this one and the
    two before it)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


# The plan's coverage target (plan 41-KH/ThU): unions in COVERAGE_PERCENT of the enterprises
# with LARGE or more workers. In whole percents, so that no float rounding asks for one union
# too many or too few.
COVERAGE_PERCENT = 85
LARGE = 25


@dataclass(frozen=True, slots=True)
class Coverage:
    """Of the directory's workplaces within reach: those whose size it gives (`sized`), those
    of them with LARGE or more workers (`large`), and how many of these have a union."""

    with_union: int
    large: int
    sized: int

    @property
    def share(self) -> float | None:
        """The share with a union, rounded down to a whole percent (never shown as the
        target while one union short of it); None without any such workplace."""
        return self.with_union * 100 // self.large / 100 if self.large else None

    @property
    def needed(self) -> int:
        """How many more of them need a union for the target share."""
        return max(0, -(-self.large * COVERAGE_PERCENT // 100) - self.with_union)
