"""Due times count working days in Vietnam time, from the local date the case was opened."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.calendar import add_working_days, due_times


def test_two_working_days_from_a_wednesday_end_on_friday_at_five():
    opened = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # Wednesday 09:30 in Vietnam
    assert add_working_days(opened, 2) == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_weekends_do_not_count():
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 15:00 in Vietnam
    assert add_working_days(friday, 2) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    assert add_working_days(saturday, 1) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_the_local_date_decides_not_the_utc_one():
    # 01:00 Saturday in Vietnam is still Friday in UTC: the count starts from Saturday.
    early_saturday = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert add_working_days(early_saturday, 1) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_due_times_per_kind():
    opened = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    first, resolution = due_times("grievance", opened)
    assert (first, resolution) == (
        datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 9, 10, 0, tzinfo=UTC),
    )
    assert due_times("membership", opened) == (datetime(2026, 11, 30, 10, 0, tzinfo=UTC), None)
    assert due_times("support", opened, {"support": (1, 5)})[1] == datetime(
        2026, 12, 2, 10, 0, tzinfo=UTC
    )
