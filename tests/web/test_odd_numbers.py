"""Numbers in a URL or a form are typed by people and forged by others: "²" passes
str.isdigit() and then breaks int(), thirty nines overflow a database integer. Every page
answers them as a missing thing (4xx), never with a 500, and changes nothing."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from storage.models import Broadcast, CannedReply, Case, Officer, OutboxItem, OutreachLink
from tests.web.conftest import csrf_of, log_in

# Superscript two (isdigit, not decimal), Arabic-Indic digits (decimal, not ASCII), a number
# past any integer column, a negative and a hex literal.
ODD = ("²", "١٢", "9" * 30, "-1", "0x1")


def _dynamic_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every dashboard route with a {placeholder}."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter")
        if template and template.startswith("/officer") and route.method in ("GET", "POST"):
            found.append((route.method, template))
    return sorted(set(found))


def _fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


async def _counts(sessions) -> tuple[int, ...]:
    async with sessions() as session:
        tables = (Case, Officer, OutboxItem, CannedReply, Broadcast, OutreachLink)
        return tuple([await session.scalar(select(func.count()).select_from(t)) for t in tables])


async def test_odd_numbers_in_dashboard_urls_are_not_found_not_errors(dashboard, sessions):
    client = dashboard["client"]
    assert await log_in(client, "admin") == 303
    token = await csrf_of(client)
    routes = _dynamic_routes(client.server.app)
    assert len(routes) > 15  # the map was read: cases, broadcasts, outreach, replies, officers
    before = await _counts(sessions)
    for value, (method, template) in itertools.product(ODD, routes):
        path = _fill(template, value)
        if method == "GET":
            response = await client.get(path, allow_redirects=False)
        else:
            form = {"csrf": token, "id": value, "broadcast": value, "option": value}
            response = await client.post(path, data=form, allow_redirects=False)
        assert response.status < 500, (method, path, response.status)
    assert await _counts(sessions) == before


async def test_odd_numbers_in_queue_filters_and_forms(dashboard, sessions):
    client = dashboard["client"]
    assert await log_in(client, "admin") == 303
    token = await csrf_of(client)
    before = await _counts(sessions)
    for value in ODD:
        await _filters_and_forms(client, token, value)
    assert await _counts(sessions) == before


async def _filters_and_forms(client, token: str, value: str) -> None:
    for path in ("/officer/queue", "/officer/export.csv", "/officer/stats", "/officer/questions"):
        for name in ("page", "union", "after", "done", "days", "id", "officer"):
            response = await client.get(path, params={name: value}, allow_redirects=False)
            assert response.status < 500, (path, name, response.status)
    done = f"close:{value}:{value}"
    assert (await client.get("/officer/queue", params={"done": done})).status < 500
    bulk = {"csrf": token, "action": "close", "cases": value}
    assert (await client.post("/officer/queue/bulk", data=bulk)).status < 500
