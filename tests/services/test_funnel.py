"""The membership funnel's arithmetic: each step in the month it happened (Vietnam's), the
conversion from step to step, the pace the plan's next target asks for, and the coverage of
enterprises with 25 or more workers against the plan's 85%."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services import funnel
from bot.services.funnel import Coverage, Funnel
from storage.outreach import Interest

PLAN = {2023: 13_000, 2025: 14_000, 2030: 16_500}  # content/membership.yaml


def rows(f: Funnel) -> list[tuple[str, list[int]]]:
    return [(month, [row[step] for step in funnel.STEPS]) for month, row in f.ordered()]


def request(filed: datetime, answered: datetime | None = None, admitted: object = None) -> Interest:
    details = {} if admitted is None else {"admitted_at": admitted}
    return Interest(link_id=1, union_id=1, filed=filed, answered=answered, details=details)


# ---------------------------------------------------------------------------- steps


def test_each_step_is_counted_in_its_month_and_the_months_come_in_order():
    f = Funnel()
    f.add("2026-11", "arrival", 8)
    f.add("2026-10", "arrival", 12)
    f.add("2026-10", "question", 6)
    f.add("2026-11", "question")
    f.add("2026-11", "interest")
    f.add("2026-12", "admitted")
    assert rows(f) == [
        ("2026-10", [12, 6, 0, 0, 0]),
        ("2026-11", [8, 1, 1, 0, 0]),
        ("2026-12", [0, 0, 0, 0, 1]),
    ]
    assert f.totals == {"arrival": 20, "question": 7, "interest": 1, "contacted": 0, "admitted": 1}


def test_a_membership_request_counts_each_step_in_the_month_it_happened_in_vietnam():
    # Filed at 00:30 on 1 November in Đà Lạt (still October in UTC), first answered on the
    # last evening of November in Đà Lạt, admitted in January.
    item = request(
        filed=datetime(2026, 10, 31, 17, 30, tzinfo=UTC),
        answered=datetime(2026, 11, 30, 16, 59, tzinfo=UTC),
        admitted="2027-01-05",
    )
    assert list(funnel.request_steps(item)) == [
        ("2026-11", "interest"), ("2026-11", "contacted"), ("2027-01", "admitted"),
    ]  # fmt: skip
    # One minute later it is December in Đà Lạt.
    later = request(
        datetime(2026, 11, 30, 17, 0, tzinfo=UTC), datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    )
    assert list(funnel.request_steps(later)) == [("2026-12", "interest"), ("2026-12", "contacted")]


@pytest.mark.parametrize("admitted", ["", "soon", "2027-13-01", 20270105, None])
def test_a_request_not_answered_nor_admitted_is_interest_only(admitted):
    item = request(datetime(2026, 11, 2, 3, 0, tzinfo=UTC), admitted=admitted)
    assert list(funnel.request_steps(item)) == [("2026-11", "interest")]


def test_the_conversions_are_each_step_against_the_one_before():
    f = Funnel()
    for step, n in zip(funnel.STEPS, (40, 18, 9, 6, 2), strict=True):
        f.add("2026-11", step, n)
    assert f.conversions() == {
        "question": 18 / 40, "interest": 9 / 18, "contacted": 6 / 9, "admitted": 2 / 6,
    }  # fmt: skip


def test_a_conversion_after_an_empty_step_is_none_and_none_is_made_up():
    f = Funnel()
    f.add("2026-11", "arrival", 5)
    f.add("2026-11", "interest", 2)  # people register interest without asking first
    assert f.conversions() == {
        "question": 0.0,
        "interest": None,
        "contacted": 0.0,
        "admitted": None,
    }
    assert Funnel().conversions() == dict.fromkeys(
        ("question", "interest", "contacted", "admitted")
    )
    assert Funnel().totals == dict.fromkeys(funnel.STEPS, 0) and Funnel().ordered() == []


def test_a_union_funnel_adds_its_links_month_by_month():
    night, gate = Funnel(), Funnel()
    night.add("2026-10", "arrival", 12)
    night.add("2026-11", "arrival", 8)
    night.add("2026-11", "contacted", 1)
    gate.add("2026-11", "arrival", 5)
    gate.add("2026-12", "admitted", 1)
    union = funnel.combined([night, gate])
    assert rows(union) == [
        ("2026-10", [12, 0, 0, 0, 0]),
        ("2026-11", [13, 0, 0, 1, 0]),
        ("2026-12", [0, 0, 0, 0, 1]),
    ]
    assert rows(night) == [("2026-10", [12, 0, 0, 0, 0]), ("2026-11", [8, 0, 0, 1, 0])]  # as was
    assert funnel.combined([]).months == {}


# ---------------------------------------------------------------------------- pace


def at(year: int, month: int, day: int, hour: int = 3) -> datetime:
    """A moment in UTC (03:00 UTC is 10:00 in Đà Lạt)."""
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_before_2025_the_pace_is_to_the_2025_target():
    # June 2024 to December 2025: 19 months for 500 members; admissions on 1 April (the
    # first day counted) to 15 June: 6 of them, 2 a month; those before or after are not.
    admitted = [date(2024, 3, 31), *[date(2024, 4, 1)] * 2, *[date(2024, 6, 15)] * 4,
                date(2024, 6, 16)]  # fmt: skip
    pace = funnel.pace(PLAN, 13_500, admitted, at(2024, 6, 15))
    assert pace == funnel.Pace(2025, 14_000, 13_500, math.ceil(500 / 19), 2.0)
    assert pace.per_month_needed == 27


def test_a_missed_target_is_left_behind_once_its_year_is_over():
    # November 2023 and 13,000 not reached: 2 months for 1,000 members.
    assert funnel.pace(PLAN, 12_000, [], at(2023, 11, 20)) == funnel.Pace(
        2023, 13_000, 12_000, 500, 0
    )
    # January 2024, still 12,000: the 2025 target, 24 months for 2,000.
    assert funnel.pace(PLAN, 12_000, [], at(2024, 1, 2)) == funnel.Pace(2025, 14_000, 12_000, 84, 0)


def test_between_2025_and_2030_the_pace_is_to_2030():
    # January 2027: 48 months (2027 to 2030) for 1,500 members; 7 admitted in Nov to Jan.
    admitted = [date(2026, 10, 31), *[date(2026, 11, 1)] * 3, *[date(2027, 1, 10)] * 4]
    pace = funnel.pace(PLAN, 15_000, admitted, at(2027, 1, 10))
    assert pace == funnel.Pace(2030, 16_500, 15_000, 32, 7 / 3)
    # December 2030: one month left for all of it.
    assert funnel.pace(PLAN, 16_000, [], at(2030, 12, 31)).per_month_needed == 500


def test_a_target_already_met_passes_to_the_next_and_none_is_left_after_the_last():
    # June 2024 with 14,200 members: 2025's 14,000 is met; 79 months to 2030's 16,500.
    assert funnel.pace(PLAN, 14_200, [], at(2024, 6, 15)) == funnel.Pace(
        2030, 16_500, 14_200, math.ceil(2_300 / 79), 0
    )
    assert funnel.pace(PLAN, 14_000, [], at(2025, 3, 1)).year == 2030  # exactly met is met
    assert funnel.pace(PLAN, 16_500, [], at(2027, 1, 10)) is None  # every target met
    assert funnel.pace(PLAN, 15_000, [], at(2031, 1, 1)) is None  # after 2030: none ahead


def test_the_year_and_the_months_are_vietnams():
    # 00:30 on 1 January 2025 in Đà Lạt, still 2024 in UTC: 12 months to the 2025 target,
    # and the last 3 months are November, December and January.
    now = datetime(2024, 12, 31, 17, 30, tzinfo=UTC)
    admitted = [date(2024, 10, 31), date(2024, 11, 1), date(2025, 1, 1)]
    assert funnel.pace(PLAN, 13_400, admitted, now) == funnel.Pace(2025, 14_000, 13_400, 50, 2 / 3)


# ---------------------------------------------------------------------------- coverage


@pytest.mark.parametrize(
    ("with_union", "large", "sized", "share", "needed"),
    [
        (0, 0, 0, None, 0),  # the directory gives no sizes
        (0, 0, 12, None, 0),  # sizes known, no workplace with 25 or more
        (17, 20, 30, 0.85, 0),  # exactly 85%
        (16, 20, 20, 0.80, 1),
        (6, 10, 10, 0.60, 3),  # the sample directory: 8.5 rounds up to 9
        (849, 1000, 1000, 0.84, 1),  # 84.9% is not shown as 85%
        (850, 1000, 1000, 0.85, 0),
        (0, 7, 9, 0.0, 6),
        (20, 20, 20, 1.0, 0),
        (1, 1, 1, 1.0, 0),
    ],
)
def test_coverage_and_the_unions_still_needed(with_union, large, sized, share, needed):
    c = Coverage(with_union, large, sized)
    assert (c.share, c.needed) == (share, needed)


@given(st.integers(1, 5000).flatmap(lambda large: st.tuples(st.integers(0, large), st.just(large))))
def test_the_unions_needed_are_the_fewest_that_reach_85_percent(counts):
    with_union, large = counts
    needed = Coverage(with_union, large, large).needed
    reached = [Fraction(with_union + n, large) >= Fraction(85, 100) for n in (needed - 1, needed)]
    assert reached == [False, True] if needed else Fraction(with_union, large) >= Fraction(85, 100)
    share = Coverage(with_union, large, large).share
    assert share is not None and share <= with_union / large < share + 0.01 + 1e-9
