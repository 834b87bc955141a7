"""A quick poll's results on the dashboard: on its broadcast's page a chart and a table by
answer and a table per segment (union, ward, workplace, kind of work), and
/officer/broadcasts/{id}/poll.csv, the same aggregated table to download (audited).

Counted by bot/services/polls.py, always under the small-cell rule: a count under 5 shows as
"<5", one hidden only to protect it as "hidden", and how many answered only from 5 on. The
page shows the counts when it loads, then static/broadcasts.js reads poll.json every 10 seconds
while the page is open and puts the new counts in place. Who may see a poll's
results is who may see its broadcast (bot/services/broadcasts.visible).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from bot.services import broadcasts, polls
from bot.services.i18n import N_, _, current_language
from bot.services.polls import Cell, Results
from bot.services.text import whole_number
from bot.web.pages import SECURITY_HEADERS, Page, number
from bot.web.statistics import script_json
from bot.web.views import csv_download, spreadsheet_safe
from storage import audit
from storage.localtime import LOCAL_TIME
from storage.models import Broadcast

# Each segment's table: its title and what its rows are.
SEGMENTS = {
    "union": (N_("Answers by union"), N_("Union")),
    "ward": (N_("Answers by ward"), N_("Ward")),
    "workplace": (N_("Answers by workplace"), N_("Workplace")),
    "work": (N_("Answers by kind of work"), N_("Kind of work")),
}
# The export's columns, as officers read them in a spreadsheet: what the row counts by
# (every answer, or a segment), which value of it, the answer, how many.
CSV_COLUMNS = (N_("Counted by"), N_("Of"), N_("Answer option"), N_("Number of answers"))


def shown(cell: Cell) -> str:
    """A count as it may be read: the number, "<5", or "hidden"."""
    if cell.count is not None:
        return number(cell.count)
    return "<5" if cell.small else _("hidden")


def section(found: Results) -> dict[str, Any]:
    """What the broadcast's page shows of a poll's results, and its chart's data."""
    answers = [
        (option, shown(cell)) for option, cell in zip(found.options, found.by_answer, strict=True)
    ]
    tables = [
        {
            "key": segment,
            "title": _(SEGMENTS[segment][0]),
            "column": _(SEGMENTS[segment][1]),
            "rows": [(row.label, [shown(cell) for cell in row.cells]) for row in rows],
        }
        for segment, rows in found.segments.items()
    ]
    values = [cell.count for cell in found.by_answer]  # None where hidden: not drawn
    chart = {"labels": list(found.options), "series": [{"label": _("Answers"), "values": values}]}
    return {
        "options": found.options,
        "answers": answers,
        "answered": number(found.answered) if found.answered is not None else None,
        "tables": tables,
        "values": values,
        "data": script_json({"locale": current_language(), "charts": {"poll": chart}}),
    }


async def results(current: Page, broadcast: Broadcast) -> dict[str, Any] | None:
    """The results section of a broadcast's page; None for a broadcast that is no poll."""
    if not polls.is_poll(broadcast):
        return None
    return section(await polls.results(current.session, broadcast))


async def _poll(current: Page) -> Broadcast | None:
    """The poll of the URL, if the officer may see its broadcast."""
    assert current.login is not None
    text = str(current.request.match_info.get("id", ""))
    found = None
    if (number := whole_number(text)) is not None:
        found = await broadcasts.visible(current.session, current.login.officer, number)
    return found if found is not None and polls.is_poll(found) else None


async def live(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}/poll.json: the results as the page shows them, read again
    by static/broadcasts.js while the page is open (the same small-cell rule)."""
    found = await _poll(current)
    if found is None:
        return web.json_response({"error": "not found"}, status=404, headers=SECURITY_HEADERS)
    shown_now = section(await polls.results(current.session, found))
    body = {
        "answered": shown_now["answered"],
        "answers": [text for _option, text in shown_now["answers"]],
        "values": shown_now["values"],
        "tables": {table["key"]: table["rows"] for table in shown_now["tables"]},
    }
    return web.json_response(body, headers=SECURITY_HEADERS)


async def export(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}/poll.csv: what a row counts by, its value, the answer,
    the count, in the officer's language; first every answer, then each segment's values.
    Hidden counts read "<5" or "hidden" (translated), like the page."""
    assert current.login is not None
    officer = current.login.officer
    found = await _poll(current)
    if found is None:
        return current.refuse(404, _("No such broadcast."))
    counted = await polls.results(current.session, found)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_(column) for column in CSV_COLUMNS)
    everyone = _("All who answered")
    for option, cell in zip(counted.options, counted.by_answer, strict=True):
        writer.writerow(spreadsheet_safe(v) for v in (everyone, "", option, _csv(cell)))
    for segment, rows in counted.segments.items():
        for row in rows:
            for option, cell in zip(counted.options, row.cells, strict=True):
                values = (_(SEGMENTS[segment][1]), row.label, option, _csv(cell))
                writer.writerow(spreadsheet_safe(v) for v in values)
    audit.record(
        current.session, actor="officer", officer_id=officer.id, action="poll.exported",
        now=current.now, detail={"broadcast": found.id},
    )  # fmt: skip
    local = current.now.astimezone(LOCAL_TIME)
    return csv_download(out.getvalue(), f"khao-sat-{found.id}-{local:%Y%m%d-%H%M}.csv")


def _csv(cell: Cell) -> str:
    """A count in the file: the plain number (for sums, no thousands dot), else as shown."""
    return str(cell.count) if cell.count is not None else shown(cell)
