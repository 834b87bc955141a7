"""Working days in Vietnam: due times for each stage of a case.

A case opened on any day is due at the end of the Nth working day (Monday–Friday) after
the day it was opened, in Asia/Ho_Chi_Minh time. Public holidays are not counted out yet:
a case due on a holiday is due that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import DEFAULT_DUE_DAYS

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
END_OF_DAY = time(17, 0)


def add_working_days(start: datetime, days: int) -> datetime:
    """17:00 Vietnam time on the `days`-th working day after `start`'s local date (UTC)."""
    day = start.astimezone(LOCAL_TIME).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TIME).astimezone(UTC)


def due_times(
    kind: str, opened: datetime, days: Mapping[str, tuple[int, int | None]] | None = None
) -> tuple[datetime, datetime | None]:
    """(first response due, resolution due or None) for a case of `kind` opened then, by
    the configured working days (Settings.due_days; the defaults without)."""
    first, resolution = (days or DEFAULT_DUE_DAYS)[kind]
    return (
        add_working_days(opened, first),
        add_working_days(opened, resolution) if resolution is not None else None,
    )
