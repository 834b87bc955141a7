"""Numbers for the dashboard's statistics page, and the small-cell rule deciding which of them
may be shown.

Every query takes an access condition (Scope.visible() from bot/services/access.py), so an
officer counts only the cases they may read. Counts are grouped in the database; months and
medians are worked out here from fetched timestamps (a few thousand rows at most), which reads
the same on SQLite and PostgreSQL and puts months in Vietnam's time zone.

Privacy: a count under THRESHOLD could point at a person ("1 harassment report at X") for
someone who cannot open the cases behind it. `disclose` states when that matters (the rule,
written once); `suppress` then hides the count and whatever would let it be worked out again.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import unanswered
from storage.localtime import LOCAL_TIME
from storage.models import Case, Union

THRESHOLD = 5
CLOSED = ("resolved", "closed")

# ---------------------------------------------------------------------------- suppression


@dataclass(frozen=True, slots=True)
class Shown:
    """A breakdown as it may be shown: `cells` holds each count, or None where it is hidden;
    `small` names the hidden cells under THRESHOLD (shown as "<5"), the other hidden ones are
    hidden only to protect them; `total` is None when any cell is hidden."""

    cells: dict[str, int | None]
    small: frozenset[str]
    total: int | None

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(key for key, value in self.cells.items() if value is None)


def disclose(counts: Mapping[str, int], *, reader_opens_every_case: bool) -> Shown:
    """The small-cell rule, the one place it is decided.

    Exact when whoever reads the numbers may open every case counted: an officer reading the
    cases of their own union's tree (what access.Scope.visible() lets them read), an admin
    reading any. Those counts tell them nothing their queue does not, and officers need them
    exact to do their work.

    Suppressed (`suppress`: no count under THRESHOLD, none recoverable by subtraction)
    wherever a count could point at a person for someone who cannot open those cases:
    anything published or exported beyond the union, comparisons across unions shown to
    others, poll results, and any breakdown of anonymous grievances by workplace shown to
    someone who cannot open them. Medians (`median`) and the membership plan's yearly counts
    (bot/services/membership_plan.progress) follow the same rule.
    """
    if reader_opens_every_case:
        return Shown(cells=dict(counts), small=frozenset(), total=sum(counts.values()))
    return suppress(counts)


def suppress(counts: Mapping[str, int]) -> Shown:
    """Hide every count under THRESHOLD and whatever would give one away.

    The breakdowns on a page all count the same cases, so whoever reads one of them in full
    knows the total of the others. Hence: a breakdown with a hidden cell hides its total; and
    while a hidden cell could still be pinned down from that total (one hidden cell alone, or
    every hidden cell at the edge of what its mark allows, e.g. two "<5" adding up to 8), one
    more shown cell is hidden: the smallest that ends this, else the smallest. A breakdown
    whose every cell ends up hidden cannot be protected further this way: {a: 4, b: 4} stays
    readable to whoever knows its total is 8.
    """
    small = {key for key, value in counts.items() if value < THRESHOLD}
    extra: list[str] = []
    shown = [key for _value, key in sorted((v, k) for k, v in counts.items() if k not in small)]

    def pinned(more: list[str]) -> bool:
        return _pinned([counts[k] for k in small], [counts[k] for k in [*extra, *more]])

    while small and shown and pinned([]):
        # The smallest cell that is enough on its own, else the smallest, and look again.
        chosen = next((key for key in shown if not pinned([key])), shown[0])
        shown.remove(chosen)
        extra.append(chosen)
    hidden = small | set(extra)
    return Shown(
        cells={key: None if key in hidden else value for key, value in counts.items()},
        small=frozenset(small),
        total=None if hidden else sum(counts.values()),
    )


def _pinned(small: Sequence[int], extra: Sequence[int]) -> bool:
    """Whether someone who knows the true total and the rule could tell a hidden value: "<5"
    cells lie in [low, 4] (low is 1 where only non-empty cells are listed, else 0), the
    others hidden lie in [5, ∞), and together they add up to what the shown cells leave."""
    lows = (0, 1) if all(small) else (0,)  # a listed 0 rules out the model "never empty"
    return any(_pinned_with(small, extra, low) for low in lows)


def _pinned_with(small: Sequence[int], extra: Sequence[int], low: int) -> bool:
    total = sum(small) + sum(extra)
    bounds: list[tuple[int, int | None]] = [(low, THRESHOLD - 1)] * len(small)
    bounds += [(THRESHOLD, None)] * len(extra)
    for i, (least, most) in enumerate(bounds):
        others = bounds[:i] + bounds[i + 1 :]
        others_least = sum(bound[0] for bound in others)
        others_most = None if any(bound[1] is None for bound in others) else sum(
            bound[1] for bound in others if bound[1] is not None
        )  # fmt: skip
        lowest = least if others_most is None else max(least, total - others_most)
        highest = total - others_least if most is None else min(most, total - others_least)
        if lowest == highest:
            return True
    return False


def median(durations: Sequence[timedelta], *, reader_opens_every_case: bool) -> timedelta | None:
    """The median, or None when there is none, or (by the rule in `disclose`) for fewer than
    THRESHOLD values read by someone who cannot open the cases: a median of two or three
    cases is nearly their own times."""
    if not durations or (not reader_opens_every_case and len(durations) < THRESHOLD):
        return None
    return timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


# ---------------------------------------------------------------------------- queries


async def by_category(
    session: AsyncSession, where: ColumnElement[bool]
) -> dict[tuple[str, str | None], int]:
    """Cases per (kind, category): the same category name means different things per kind."""
    stmt = (
        select(Case.kind, Case.category, func.count())
        .where(where)
        .group_by(Case.kind, Case.category)
    )
    return {(kind, category): int(n) for kind, category, n in await session.execute(stmt)}


async def by_status(session: AsyncSession, where: ColumnElement[bool]) -> dict[str, int]:
    stmt = select(Case.status, func.count()).where(where).group_by(Case.status)
    return {status: int(n) for status, n in await session.execute(stmt)}


async def by_union(session: AsyncSession, where: ColumnElement[bool]) -> dict[tuple[str, str], int]:
    """Cases per union that holds them now, keyed by (code, name)."""
    stmt = (
        select(Union.code, Union.name, func.count())
        .select_from(Case)
        .join(Union, Union.id == Case.union_id)
        .where(where)
        .group_by(Union.code, Union.name)
    )
    return {(code, name): int(n) for code, name, n in await session.execute(stmt)}


async def union_codes(session: AsyncSession, ids: Collection[int]) -> frozenset[str]:
    """The codes of these unions (the membership plan counts members by union code)."""
    stmt = select(Union.code).where(Union.id.in_(sorted(ids)))
    return frozenset(await session.scalars(stmt))


def month_of(moment: datetime) -> str:
    """'2026-11': the month in Vietnam's time zone."""
    return f"{moment.astimezone(LOCAL_TIME):%Y-%m}"


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


async def per_month(
    session: AsyncSession, where: ColumnElement[bool], now: datetime, kind: str | None = None
) -> dict[str, int]:
    """Cases opened per month ('2026-11'), from the first month with one up to now's, empty
    months included (with 0) so that a chart's time axis has no holes."""
    stmt = select(Case.created_at).where(where)
    if kind is not None:
        stmt = stmt.where(Case.kind == kind)
    counts: dict[str, int] = {}
    for moment in await session.scalars(stmt):
        counts[month_of(moment)] = counts.get(month_of(moment), 0) + 1
    if not counts:
        return {}
    last = max(month_of(now), *counts)
    return {month: counts.get(month, 0) for month in _months(min(counts), last)}


async def response_times(session: AsyncSession, where: ColumnElement[bool]) -> list[timedelta]:
    """From opening to an officer's first answer, for the cases answered."""
    stmt = select(Case.created_at, Case.first_response_at).where(
        where, Case.first_response_at.is_not(None)
    )
    rows = await session.execute(stmt)
    return [answered - opened for opened, answered in rows if answered is not None]


async def resolution_times(session: AsyncSession, where: ColumnElement[bool]) -> list[timedelta]:
    """From opening to resolving or closing, for the cases resolved or closed."""
    stmt = select(Case.created_at, Case.closed_at).where(
        where, Case.status.in_(CLOSED), Case.closed_at.is_not(None)
    )
    rows = await session.execute(stmt)
    return [closed - opened for opened, closed in rows if closed is not None]


def admitted_on(details: Mapping[str, object] | None) -> date | None:
    """The day a membership case's worker was confirmed as admitted (details "admitted_at",
    an ISO date or date-time), or None when not (yet), or not readable."""
    value = (details or {}).get("admitted_at")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


async def admissions(session: AsyncSession, where: ColumnElement[bool]) -> list[date]:
    """The admission days of membership cases confirmed as admitted. JSON keys are not
    searched alike on both databases, so the details are read here."""
    stmt = select(Case.details).where(where, Case.kind == "membership")
    found = (admitted_on(details) for details in await session.scalars(stmt))
    return sorted(day for day in found if day is not None)


@dataclass(frozen=True, slots=True)
class Theme:
    """A question the bot could not answer: its latest (masked) wording and how often."""

    text: str
    count: int


async def themes(session: AsyncSession, limit: int = 20) -> list[Theme]:
    """The unanswered questions asked most, only those that THRESHOLD or more people asked:
    a wording only one or two people used could tell who they are."""
    rows = await unanswered.most_asked(session, limit=200)
    common = [row for row in rows if len(set(row.askers)) >= THRESHOLD]
    return [Theme(row.text, row.count) for row in common[:limit]]
