"""Working days in Vietnam: due times for each stage of a case.

A case opened on any day is due at the end of the Nth working day (Monday–Friday, public
holidays left out) after the day it was opened, in Asia/Ho_Chi_Minh time. The holidays are
data, content/holidays.yaml, complete up to its `covered_until` date; after that date only
weekends are left out until someone adds the next year's days.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml

from bot.config import DEFAULT_DUE_DAYS, ConfigError
from storage.localtime import LOCAL_TIME

END_OF_DAY = time(17, 0)


HOLIDAYS_FILE = "holidays.yaml"


@dataclass(frozen=True, slots=True)
class Holidays:
    """Public holidays on working days, known up to `covered_until`."""

    days: frozenset[date] = frozenset()
    covered_until: date | None = None


@functools.cache
def load_holidays(content_dir: Path) -> Holidays:
    """content/holidays.yaml; no file means no holidays. A malformed file is a ConfigError."""
    path = Path(content_dir) / HOLIDAYS_FILE
    if not path.exists():
        return Holidays()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        days = frozenset(_day(entry["date"]) for entry in data.get("days") or ())
        covered = data.get("covered_until")
        return Holidays(days, _day(covered) if covered is not None else None)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _day(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def add_working_days(start: datetime, days: int, holidays: Holidays | None = None) -> datetime:
    """17:00 Vietnam time on the `days`-th working day after `start`'s local date (UTC)."""
    off = holidays.days if holidays else frozenset()
    day = start.astimezone(LOCAL_TIME).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            counted += 1
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TIME).astimezone(UTC)


def due_times(
    kind: str,
    opened: datetime,
    days: Mapping[str, tuple[int, int | None]] | None = None,
    holidays: Holidays | None = None,
) -> tuple[datetime, datetime | None]:
    """(first response due, resolution due or None) for a case of `kind` opened then, by
    the configured working days (Settings.due_days; the defaults without)."""
    first, resolution = (days or DEFAULT_DUE_DAYS)[kind]
    return (
        add_working_days(opened, first, holidays),
        add_working_days(opened, resolution, holidays) if resolution is not None else None,
    )
