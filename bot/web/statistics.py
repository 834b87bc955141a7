"""The dashboard's statistics page, /officer/stats: what reaches the officer's unions, how fast
it is answered, and membership against the plan's targets, each as a chart with a table
beneath it.

Only the cases the officer may read are counted (Scope.visible(); admins: all), so by the
small-cell rule (storage.statistics.disclose) every count here is exact: the officer can
open each case behind it in the queue. Per table: requests by category, status, union and
month, membership interest per month and the median times count Scope.visible(); members
against the plan count the admissions of Scope.actionable(); the membership funnel (overall,
per union by month, per link) counts the people who came through the reader's unions' own
outreach links (the federation's readers: everyone) and the membership requests of
Scope.visible(): all exact. The one list of things officers cannot open, the questions the
bot could not answer (every union's askers), keeps its own rule: only wordings asked by 5
or more people (storage.statistics.themes). Were a table ever to count cases beyond the
reader's reach, its `_shown` call (for the funnel: a `disclose` call of its own) passes
reader_opens_every_case=False and it shows "<5" and hides what would give one away.
Rows keep a fixed order (the form's order, names, months), never by size, since a hidden
cell ranked between two shown ones would be bounded by them. The charts' numbers reach
stats.js in a JSON <script> block, as the page's CSP allows no inline script; the JSON is
escaped so that no text in it can end that block.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import access, funnel, labels, membership_plan
from bot.services.i18n import N_, _, current_language, format_date
from bot.web.outreach import STEP_NAMES
from bot.web.pages import Page, category_name, number
from storage import audit, outreach, statistics, unions
from storage.localtime import LOCAL_TIME
from storage.models import CASE_KINDS, CASE_STATUSES

log = logging.getLogger(__name__)

PLAN_FILE = "membership.yaml"
# Every query on this page is limited to what the reader may open (see the docstring).
OPENS_EVERY_CASE = True


@dataclass(frozen=True, slots=True)
class Table:
    """One breakdown as shown: rows of (label, shown text) and the total's shown text."""

    key: str  # names the chart's canvas, chart-<key>
    title: str
    column: str  # what the rows are: category, status...
    rows: list[tuple[str, str]]
    total: str


def script_json(value: object) -> Markup:
    """JSON to put inside a <script> element: every <, > and & is written as a \\u escape, so
    no text in the data ("</script>", "<!--") can end or alter the element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return Markup(text)


def duration(value: timedelta | None) -> str:
    if value is None:
        return _("none yet") if OPENS_EVERY_CASE else _("fewer than 5 requests")
    hours = value.total_seconds() / 3600
    if hours < 1:
        return _("{n} minutes").format(n=number(round(hours * 60)))
    if hours < 48:
        return _("{n} hours").format(n=number(round(hours, 1)))
    return _("{n} days").format(n=number(round(hours / 24, 1)))


def _hidden_text(small: bool) -> str:
    """'<5' for a count under 5; 'hidden' for one left out only to protect a small one."""
    return "<5" if small else _("hidden")


def _shown(
    key: str, title: str, column: str, counts: dict[str, int], labels: dict[str, str]
) -> tuple[Table, dict[str, Any]]:
    """A breakdown's table and chart data as the small-cell rule allows, in the order of
    `counts`."""
    shown = statistics.disclose(counts, reader_opens_every_case=OPENS_EVERY_CASE)
    rows = [
        (labels[cell], _hidden_text(cell in shown.small) if value is None else number(value))
        for cell, value in shown.cells.items()
    ]
    total = number(shown.total) if shown.total is not None else _hidden_text(False)
    chart = {
        "keys": list(shown.cells),
        "labels": [labels[cell] for cell in shown.cells],
        "series": [{"label": title, "values": list(shown.cells.values())}],
    }
    return Table(key, title, column, rows, total), chart


UNKNOWN_KIND = N_("Other")
UNKNOWN_CATEGORY = N_("other category")


def _category_label(current: Page, kind: str, category: str | None) -> str:
    """The kind and the category as officers read them; never a stored code."""
    kind_name = _(labels.OFFICER_KINDS.get(kind, UNKNOWN_KIND))
    if category is None:
        return kind_name
    name = category_name(current.services, kind, category)
    return f"{kind_name} · {name or _(UNKNOWN_CATEGORY)}"


def _month_label(month: str) -> str:
    year, number_ = month.split("-")
    return f"{number_}/{year}"


async def stats(current: Page) -> web.StreamResponse:
    """GET /officer/stats."""
    assert current.login is not None
    session, now = current.session, current.now
    scope = await access.scope(session, current.login.officer)
    where = scope.visible()
    root = await unions.root(session)
    whole = scope.unions is None or (root is not None and root.id in scope.unions)

    tables, charts = await _breakdowns(current, where)
    interest_table, charts["interest"] = _shown(
        "interest", _("Membership interest per month"), _("Month"),
        *await _per_month(session, where, now, kind="membership"),
    )  # fmt: skip

    members = await _members(current, scope, whole)
    if members["chart"] is not None:
        charts["members"] = members["chart"]
    outreach_part = await _outreach(current, scope, whole, members)
    charts["funnel"] = outreach_part.pop("chart")

    response = statistics.median(
        await statistics.response_times(session, where), reader_opens_every_case=OPENS_EVERY_CASE
    )
    resolution = statistics.median(
        await statistics.resolution_times(session, where),
        reader_opens_every_case=OPENS_EVERY_CASE,
    )
    audit.record(
        session, actor="officer", officer_id=scope.officer_id, action="stats.viewed", now=now,
        detail={"whole": whole},
    )  # fmt: skip
    return current.render(
        "stats.html",
        whole=whole,
        tables=tables,
        interest=interest_table,
        members=members,
        outreach=outreach_part,
        steps=STEP_NAMES,
        response=duration(response),
        resolution=duration(resolution),
        themes=[(t.text, number(t.count)) for t in await statistics.themes(session)],
        data=script_json({"locale": current_language(), "charts": charts}),
    )


# Counts by row key and the rows' labels, in the order the rows are shown.
Breakdown = tuple[dict[str, int], dict[str, str]]


async def _breakdowns(
    current: Page, where: ColumnElement[bool]
) -> tuple[list[Table], dict[str, Any]]:
    """The tables and charts of requests by category, status, union and month, in order."""
    session, now = current.session, current.now
    tables: list[Table] = []
    charts: dict[str, Any] = {}

    def add(key: str, title: str, column: str, breakdown: Breakdown) -> None:
        table, charts[key] = _shown(key, title, column, *breakdown)
        tables.append(table)

    add("category", _("Requests by category"), _("Category"), await _by_category(current, where))
    add("status", _("Requests by status"), _("Status"), await _by_status(session, where))
    add("union", _("Requests by union"), _("Union"), await _by_union(session, where))
    add("month", _("Requests per month"), _("Month"), await _per_month(session, where, now))
    return tables, charts


async def _by_category(current: Page, where: ColumnElement[bool]) -> Breakdown:
    """By kind in the form's order, then by category name."""
    categories = await statistics.by_category(current.session, where)
    order = sorted(
        categories,
        key=lambda k: (CASE_KINDS.index(k[0]) if k[0] in CASE_KINDS else 9, k[1] or ""),
    )
    counts = {f"{kind}:{category or ''}": categories[kind, category] for kind, category in order}
    names = {f"{k}:{c or ''}": _category_label(current, k, c) for k, c in order}
    return counts, names


async def _by_status(session: AsyncSession, where: ColumnElement[bool]) -> Breakdown:
    statuses = await statistics.by_status(session, where)
    present = [s for s in CASE_STATUSES if s in statuses]
    counts = {s: statuses[s] for s in present}
    return counts, {s: _(labels.OFFICER_STATUSES[s]).capitalize() for s in present}


async def _by_union(session: AsyncSession, where: ColumnElement[bool]) -> Breakdown:
    held = await statistics.by_union(session, where)
    by_name = sorted(held, key=lambda k: (k[1], k[0]))
    return {code: held[code, name] for code, name in by_name}, dict(by_name)


async def _per_month(
    session: AsyncSession, where: ColumnElement[bool], now: datetime, kind: str | None = None
) -> Breakdown:
    months = await statistics.per_month(session, where, now, kind=kind)
    return months, {m: _month_label(m) for m in months}


async def _members(current: Page, scope: access.Scope, whole: bool) -> dict[str, Any]:
    """Members per year against the plan: the rows to show, the chart, or what is wrong."""
    path = current.services.settings.content_dir / PLAN_FILE
    try:
        plan = membership_plan.load(path)
    except membership_plan.PlanError as exc:
        log.error("%s", exc)
        return {"error": str(exc), "rows": [], "chart": None, "as_of": None, "now": None}
    codes = None
    if not whole and scope.unions is not None:
        codes = await statistics.union_codes(current.session, scope.unions)
    # Members join the union that holds the case, so count the cases held by these unions
    # (not those escalated away from them), like the baselines of these unions.
    admitted = await statistics.admissions(current.session, scope.actionable())
    years = membership_plan.progress(
        plan, codes, admitted, current.now.astimezone(LOCAL_TIME).year, targets=whole,
        reader_opens_every_case=OPENS_EVERY_CASE,
    )  # fmt: skip
    rows = []
    for year in years:
        if year.hidden:
            through = f"{number(year.floor)} + <5" if year.floor else "<5"
        else:
            # Blank before, on (nothing yet) and after the baseline.
            through = number(year.through_bot) if year.through_bot else ""
        rows.append(
            {
                "year": year.year,
                "members": number(year.members) if year.members is not None else "",
                "hidden": year.hidden,
                "through_bot": through,
                "target": number(year.target) if year.target is not None else "",
            }
        )
    series = [{"label": _("Members"), "values": [y.members for y in years]}]
    if whole:
        series.append({"label": _("Plan target"), "values": [y.target for y in years]})
    chart = {"labels": [str(y.year) for y in years], "series": series}
    this_year = current.now.astimezone(LOCAL_TIME).year
    now = next((y.members for y in years if y.year == this_year), None)
    return {
        "error": None, "rows": rows, "chart": chart, "as_of": format_date(plan.as_of),
        "now": now, "targets": plan.targets, "admitted": admitted,
    }  # fmt: skip


async def _outreach(
    current: Page, scope: access.Scope, whole: bool, members: dict[str, Any]
) -> dict[str, Any]:
    """The membership funnel (overall, by union, by link), the pace the plan's next target
    asks for, and the coverage of enterprises with 25 or more workers."""
    session, where = current.session, scope.visible()
    links = await outreach.listed(session, scope.unions)
    per_link = await funnel.by_link(session, [link.id for link in links], where)
    # Beyond the whole federation, "overall" is what the reader's own links brought.
    total = await funnel.overall(session, where) if whole else funnel.combined(per_link.values())
    names = {u.id: u.name for u in await current.session.scalars(unions.all_unions_query())}
    # By the union's id: two unions may share a name (two schools' unions in two wards).
    by_union: dict[int, list[funnel.Funnel]] = {}
    for link in links:
        by_union.setdefault(link.union_id, []).append(per_link[link.id])
    counted = await unions.coverage(session, None if whole else scope.unions, funnel.LARGE)
    totals = total.totals
    return {
        "total": total,
        "unions": [
            (names[union_id], funnel.combined(by_union[union_id]))
            for union_id in sorted(by_union, key=lambda union_id: (names[union_id], union_id))
        ],
        "links": [(link, per_link[link.id]) for link in links],
        "pace": _pace(current, whole, members),
        "coverage": funnel.Coverage(*counted),
        "least": funnel.LARGE,
        "target": funnel.COVERAGE_PERCENT / 100,
        "chart": {
            "labels": [_(STEP_NAMES[step]) for step in funnel.STEPS],
            "series": [{"label": _("People"), "values": [totals[s] for s in funnel.STEPS]}],
        },
    }  # fmt: skip


def _pace(current: Page, whole: bool, members: dict[str, Any]) -> funnel.Pace | None:
    """For the whole federation: admissions a month the next target asks for (against the
    admissions the members' table counted)."""
    if not whole or members["error"] or members["now"] is None:
        return None
    return funnel.pace(members["targets"], members["now"], members["admitted"], current.now)
