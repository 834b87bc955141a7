"""Due times count working days in Vietnam time, from the local date the case was opened."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import CONTENT_DIR, ConfigError
from bot.services.calendar import Holidays, add_working_days, due_times, load_holidays


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


def test_public_holidays_are_not_working_days():
    holidays = load_holidays(CONTENT_DIR)
    assert date(2027, 1, 1) in holidays.days and holidays.covered_until == date(2027, 1, 31)
    opened = datetime(2026, 12, 30, 3, 0, tzinfo=UTC)  # Wednesday 10:00 in Vietnam
    # Thursday 31 December counts, Friday 1 January is Tết Dương lịch: due Monday 4 January.
    assert add_working_days(opened, 2, holidays) == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
    assert add_working_days(opened, 2) == datetime(2027, 1, 1, 10, 0, tzinfo=UTC)
    tet = datetime(2026, 2, 13, 3, 0, tzinfo=UTC)  # Friday before Tết Bính Ngọ
    assert due_times("grievance", tet, None, holidays)[0] == datetime(
        2026, 2, 24, 10, 0, tzinfo=UTC
    )


def test_a_malformed_holiday_file_is_a_clear_error(tmp_path):
    (tmp_path / "holidays.yaml").write_text("days:\n  - {date: 2026-13-01}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holidays\.yaml"):
        load_holidays(tmp_path)
    assert load_holidays(tmp_path / "nowhere") == Holidays()
