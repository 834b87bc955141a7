"""The membership plan: the federation's member targets per year and each union's members on
a baseline day (content/membership.yaml), and the members counted against them since.

Members on a year's end are the baseline of the unions counted plus the workers confirmed as
admitted through the bot after the baseline day. The baseline stands for its own year; an
admission later in that year counts from the next. For a reader who may open every
admission counted (storage.statistics.disclose states the rule), every year is exact.
For any other reader a year's number is shown only when at least THRESHOLD admissions came
since the last year shown (the baseline is the first): otherwise subtracting two shown years
would tell how few people joined in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from storage.statistics import THRESHOLD

EXAMPLE = "targets: {2030: 16500}\nbaseline: {as_of: 2025-12-31, unions: {GR-EXAMPLE: 120}}"


class PlanError(ValueError):
    """The plan file is missing or malformed; the message says where and how."""


@dataclass(frozen=True, slots=True)
class Plan:
    targets: Mapping[int, int]  # year -> members the plan asks for (the whole federation)
    as_of: date
    baseline: Mapping[str, int]  # union code -> members on as_of

    def members_on_baseline(self, codes: Collection[str] | None) -> int:
        """The baseline of these unions (None: every union in the file)."""
        return sum(n for code, n in self.baseline.items() if codes is None or code in codes)


def load(path: Path) -> Plan:
    """Read and check the plan file; PlanError says what is wrong with it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the membership plan ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data, str(path))


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse(data: object, source: str = "membership plan") -> Plan:
    """A Plan from the parsed YAML, or PlanError naming the first thing wrong."""

    def fail(problem: str) -> PlanError:
        return PlanError(f"{source}: {problem}; expected for example:\n{EXAMPLE}")

    if not isinstance(data, dict):
        raise fail("the file must be a mapping with 'targets' and 'baseline'")
    targets, baseline = data.get("targets"), data.get("baseline")
    if not isinstance(targets, dict) or not targets:
        raise fail("'targets' must map years to member counts")
    for year, members in targets.items():
        if not _count(year) or not 1900 <= year <= 2200 or not _count(members):
            raise fail(f"'targets' has {year!r}: {members!r}, not a year and a member count")
    if not isinstance(baseline, dict):
        raise fail("'baseline' must have 'as_of' (a date) and 'unions'")
    as_of = baseline.get("as_of")
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            raise fail(f"'baseline.as_of' {as_of!r} is not a date like 2025-12-31") from None
    if not isinstance(as_of, date):
        raise fail("'baseline.as_of' must be a date like 2025-12-31")
    unions = baseline.get("unions")
    if not isinstance(unions, dict):
        raise fail("'baseline.unions' must map union codes to member counts")
    for code, members in unions.items():
        if not isinstance(code, str) or not _count(members):
            raise fail(f"'baseline.unions' has {code!r}: {members!r}, not a code and a count")
    return Plan(targets=dict(sorted(targets.items())), as_of=as_of, baseline=dict(unions))


@dataclass(frozen=True, slots=True)
class Year:
    """One year of the members chart. `members` is None before the baseline, after this
    year, or when hidden; `through_bot` counts admissions since the baseline day (None
    when hidden); `floor` is the last count shown before a hidden one."""

    year: int
    members: int | None
    through_bot: int | None
    hidden: bool
    floor: int
    target: int | None


def progress(
    plan: Plan,
    codes: Collection[str] | None,
    admitted: Sequence[date],
    this_year: int,
    targets: bool = True,
    *,
    reader_opens_every_case: bool = False,
) -> list[Year]:
    """Members per year from the first target or baseline year to the last target or this
    year, for the unions `codes` (None: all), against the targets if `targets`; small steps
    hidden unless the reader may open every admission counted."""
    least = 0 if reader_opens_every_case else THRESHOLD
    base = plan.members_on_baseline(codes)
    after = sorted(day for day in admitted if plan.as_of < day and day.year <= this_year)
    first = min(plan.as_of.year, *plan.targets)
    last = max(this_year, *plan.targets)
    rows: list[Year] = []
    shown = 0  # admissions counted in the last year shown
    for year in range(first, last + 1):
        target = plan.targets.get(year) if targets else None
        if year < plan.as_of.year or year > this_year:
            rows.append(Year(year, None, None, False, shown, target))
        elif year == plan.as_of.year:
            rows.append(Year(year, base, 0, False, 0, target))
        else:
            total = sum(1 for day in after if day.year <= year)
            if total - shown >= least:
                rows.append(Year(year, base + total, total, False, total, target))
                shown = total
            else:
                rows.append(Year(year, None, None, True, shown, target))
    return rows
