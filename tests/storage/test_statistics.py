"""The small-cell rule (no hidden count can be worked out from what is shown, even by someone
who knows the total from another table) and the statistics queries on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import true

from storage import cases, directory, statistics, unions
from storage.models import Case
from storage.statistics import THRESHOLD, suppress
from tests.support import SAMPLE_DIRECTORY

# Breakdowns as the page has them: a few cells, many of them small.
COUNTS = st.dictionaries(
    st.sampled_from("abcdefg"),
    st.one_of(st.integers(0, 6), st.integers(0, 40)),
    max_size=7,
)


def feasible(bounds: list[tuple[int, int]], total: int) -> set[tuple[int, ...]]:
    """Every assignment of values within `bounds` adding up to `total` (brute force)."""
    found: set[tuple[int, ...]] = {()}
    for least, most in bounds:
        found = {
            (*done, value)
            for done in found
            for value in range(least, most + 1)
            if sum(done) + value <= total
        }
    return {values for values in found if sum(values) == total}


@given(COUNTS)
def test_small_cells_show_as_under_five_and_their_total_goes(counts):
    shown = suppress(counts)
    assert list(shown.cells) == list(counts)  # the caller's order: never ranked by size
    for key, value in counts.items():
        assert (key in shown.small) == (value < THRESHOLD)
        assert shown.cells[key] in (None, value)
        assert shown.cells[key] is not None or key in shown.hidden
    assert shown.small <= shown.hidden
    assert shown.total == (None if shown.hidden else sum(counts.values()))


@given(COUNTS)
@example({"a": 3, "b": 10, "c": 20})
def test_no_hidden_count_can_be_had_by_subtraction(counts):
    """From the table itself: a shown total means nothing is hidden. Knowing the total from
    elsewhere (the other breakdowns add up to it): never exactly one hidden cell, unless the
    table has only that one, which is then under 5 like the whole page's total."""
    shown = suppress(counts)
    if shown.total is not None:
        assert not shown.hidden
    assert len(shown.hidden) != 1 or len(counts) == 1


@given(COUNTS)
@example({"a": 1, "b": 5, "c": 30})  # a=1, b=5 would be pinned from a total of 6
@example({"a": 4, "b": 4, "c": 100})  # two "<5" adding up to 8 are both 4
@example({"a": 0, "b": 0, "c": 9})
def test_no_hidden_count_can_be_pinned_even_by_its_bounds(counts):
    """Someone who knows the true total, the rule, and which hidden cells are "<5" (0 to 4,
    or 1 to 4 where empty cells are not listed) and which are hidden to protect them (5 or
    more) still finds two or more possible values for every hidden cell, whenever the rule
    could leave any cell shown."""
    shown = suppress(counts)
    hidden = [key for key in counts if key in shown.hidden]
    if not hidden or len(hidden) == len(counts):
        return
    total = sum(counts[key] for key in hidden)  # what the shown cells leave of the total
    for least in (0, 1):
        if any(counts[key] < least for key in hidden):
            continue  # this reader's model does not fit these data: it tells them nothing
        bounds = [
            (least, THRESHOLD - 1) if key in shown.small else (THRESHOLD, total) for key in hidden
        ]
        options = feasible(bounds, total)
        for i, key in enumerate(hidden):
            assert len({values[i] for values in options}) >= 2, (key, least, counts)


def test_every_cell_small_is_as_far_as_the_rule_goes():
    # Nothing is left to hide: whoever knows the total is 8 knows both are 4.
    assert suppress({"a": 4, "b": 4}).cells == {"a": None, "b": None}
    assert suppress({}).total == 0


def test_a_complementary_cell_is_the_smallest_that_protects():
    shown = suppress({"a": 1, "b": 5, "c": 30, "d": 7})
    assert shown.cells == {"a": None, "b": 5, "c": 30, "d": None}
    assert shown.small == {"a"}


def test_a_median_needs_five_cases_unless_the_reader_can_open_them():
    hours = [timedelta(hours=h) for h in (1, 2, 3, 4, 10)]
    for opens in (False, True):
        assert statistics.median(hours, reader_opens_every_case=opens) == timedelta(hours=3)
        assert statistics.median([], reader_opens_every_case=opens) is None
    assert statistics.median(hours[:4], reader_opens_every_case=False) is None
    assert statistics.median(hours[:2], reader_opens_every_case=True) == timedelta(hours=1.5)
    more = [*hours, timedelta(hours=20)]
    assert statistics.median(more, reader_opens_every_case=False) == timedelta(hours=3.5)


@given(COUNTS)
@example({"new": 47, "assigned": 3})
def test_the_rule_is_exact_for_readers_who_can_open_every_case_and_suppresses_otherwise(counts):
    """An officer counting their own tree's cases sees them as they are; anyone else gets
    `suppress`: "<5" and no total or other cell that gives a small one away."""
    exact = statistics.disclose(counts, reader_opens_every_case=True)
    assert exact.cells == dict(counts) and exact.total == sum(counts.values())
    assert not exact.small and not exact.hidden
    assert statistics.disclose(counts, reader_opens_every_case=False) == suppress(counts)


def test_forty_seven_new_cases_hidden_to_protect_three_only_from_those_who_cannot_open_them():
    others = statistics.disclose({"new": 47, "assigned": 3}, reader_opens_every_case=False)
    assert others.cells == {"new": None, "assigned": None} and others.total is None
    assert others.small == {"assigned"}


def test_admission_days_are_read_leniently():
    assert statistics.admitted_on({"admitted_at": "2026-03-04"}) == date(2026, 3, 4)
    assert statistics.admitted_on({"admitted_at": "2026-03-04T10:00:00+07:00"}) == date(2026, 3, 4)
    for details in ({}, None, {"admitted_at": "soon"}, {"admitted_at": 20260304}):
        assert statistics.admitted_on(details) is None


async def test_the_queries_on_both_databases(sessions):
    now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    async with sessions() as session:
        await unions.import_directory(session, directory.load(SAMPLE_DIRECTORY))
        ours = await unions.by_code(session, "GR-HOAVIEN")
        other = await unions.by_code(session, "GR-THONGXANH")
        # 17:30 UTC on 31 August is already September in Vietnam.
        opened = (
            datetime(2026, 8, 31, 17, 30, tzinfo=UTC), datetime(2026, 7, 1, 3, tzinfo=UTC), now,
        )  # fmt: skip
        made = []
        for moment in opened:
            made.append(
                await cases.open(
                    session, kind="membership", union_id=ours.id, person_id=None, text="x",
                    now=moment, category="contract",
                    details={"admitted_at": moment.date().isoformat()},
                )
            )  # fmt: skip
        await cases.open(
            session, kind="grievance", union_id=other.id, person_id=None, text="x", now=now,
            category="wages",
        )  # fmt: skip
        made[0].first_response_at = made[0].created_at + timedelta(hours=5)
        made[1].status, made[1].closed_at = "closed", made[1].created_at + timedelta(days=2)
        await session.flush()
        mine = Case.union_id == ours.id
        assert await statistics.by_status(session, true()) == {"new": 3, "closed": 1}
        assert await statistics.by_category(session, mine) == {("membership", "contract"): 3}
        assert await statistics.by_union(session, true()) == {
            ("GR-HOAVIEN", ours.name): 3, ("GR-THONGXANH", other.name): 1,
        }  # fmt: skip
        assert await statistics.per_month(session, mine, now) == {
            "2026-07": 1, "2026-08": 0, "2026-09": 1, "2026-10": 0, "2026-11": 1,
        }  # fmt: skip
        assert await statistics.per_month(session, mine, now, kind="grievance") == {}
        assert await statistics.response_times(session, mine) == [timedelta(hours=5)]
        assert await statistics.resolution_times(session, mine) == [timedelta(days=2)]
        assert await statistics.admissions(session, mine) == [
            date(2026, 7, 1), date(2026, 8, 31), date(2026, 11, 25),
        ]  # fmt: skip
        assert await statistics.union_codes(session, [ours.id]) == {"GR-HOAVIEN"}
