"""The membership plan file and members counted against it."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import CONTENT_DIR
from bot.services import membership_plan
from bot.services.membership_plan import PlanError
from storage import directory
from storage.statistics import THRESHOLD

PLAN = membership_plan.Plan(
    targets={2023: 1000, 2025: 1100, 2030: 1500},
    as_of=date(2025, 12, 31),
    baseline={"GR-A": 200, "GR-B": 300, "CL-C": 500},
)


def test_the_shipped_plan_reads_and_covers_the_sample_directory():
    plan = membership_plan.load(CONTENT_DIR / "membership.yaml")
    assert plan.targets == {2023: 13000, 2025: 14000, 2030: 16500}
    assert plan.as_of == date(2025, 12, 31)
    assert 13_000 < plan.members_on_baseline(None) < 14_000
    sample = directory.load(CONTENT_DIR / "directory" / "sample.yaml")
    codes = {union.code for union in sample.unions}
    assert set(plan.baseline) <= codes


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("targets: [", "not valid YAML"),
        ("- 1\n- 2", "must be a mapping"),
        ("baseline: {as_of: 2025-12-31, unions: {}}", "'targets' must map"),
        ("targets: {soon: 10}\nbaseline: {as_of: 2025-12-31, unions: {}}", "not a year"),
        ("targets: {2030: -1}\nbaseline: {as_of: 2025-12-31, unions: {}}", "not a year"),
        ("targets: {2030: 10}", "'baseline' must have"),
        ("targets: {2030: 10}\nbaseline: {as_of: end of 2025, unions: {}}", "not a date"),
        ("targets: {2030: 10}\nbaseline: {as_of: 2025-12-31}", "'baseline.unions'"),
        ("targets: {2030: 10}\nbaseline: {as_of: 2025-12-31, unions: {A: many}}", "not a code"),
    ],
)
def test_a_malformed_plan_says_what_is_wrong(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "membership.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError, match=problem) as raised:
        membership_plan.load(path)
    assert str(path) in str(raised.value)


def test_a_missing_plan_says_so(tmp_path: Path):
    with pytest.raises(PlanError, match="cannot read"):
        membership_plan.load(tmp_path / "nothing.yaml")


def test_members_are_the_baseline_plus_admissions_since():
    admitted = [date(2025, 6, 1)] * 9 + [date(2026, 2, 1)] * 6 + [date(2027, 3, 1)] * 2
    years = {y.year: y for y in membership_plan.progress(PLAN, None, admitted, 2027)}
    assert list(years) == list(range(2023, 2031))
    assert (years[2023].members, years[2023].target) == (None, 1000)
    assert (years[2025].members, years[2025].target) == (1000, 1100)  # June's 9: in it
    assert (years[2026].members, years[2026].through_bot) == (1006, 6)
    assert years[2027].hidden and years[2027].members is None and years[2027].floor == 6
    assert years[2028].members is None and years[2030].target == 1500
    mine = membership_plan.progress(PLAN, {"GR-A"}, admitted[9:15], 2026, targets=False)
    assert [(y.year, y.members, y.target) for y in mine if y.year in (2025, 2026, 2030)] == [
        (2025, 200, None), (2026, 206, None), (2030, None, None),
    ]  # fmt: skip


def test_a_reader_who_can_open_every_admission_sees_every_year():
    admitted = [date(2026, 2, 1)] * 6 + [date(2027, 3, 1)] * 2
    years = {
        y.year: y
        for y in membership_plan.progress(PLAN, None, admitted, 2027, reader_opens_every_case=True)
    }
    assert (years[2026].members, years[2027].members, years[2027].through_bot) == (1006, 1008, 8)
    assert not any(y.hidden for y in years.values())


@given(st.lists(st.integers(0, 5 * 365), max_size=60))
def test_no_shown_year_tells_how_few_joined_since_another(offsets):
    """Between any two years shown (the baseline's among them) at least 5 people joined."""
    admitted = [PLAN.as_of + timedelta(days=days) for days in offsets]
    years = membership_plan.progress(PLAN, None, admitted, 2030)
    shown = [y.members for y in years if y.members is not None]
    assert shown[0] == 1000
    assert all(later - earlier >= THRESHOLD for earlier, later in itertools.pairwise(shown))
    assert all(y.through_bot is None for y in years if y.hidden)
