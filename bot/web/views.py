"""The officer dashboard's login, queue, export and case pages and the case actions
(server-rendered, Vietnamese, no build step); the URL map is bot/web/routes.py.

Every page runs in one unit of work (bot/web/pages.py): the login is checked
(bot/web/auth.py), cases are reached only through bot/services/access.py, views and actions
are audited, and what an action does to a case is bot/services/casework.py, the same as on
Telegram. Worker text is rendered by Jinja with autoescaping, so it is inert.
"""

from __future__ import annotations

import csv
import io
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import and_

from bot.services import access, alerts, casework, labels
from bot.services.i18n import N_, _, format_date
from bot.services.text import whole_number
from bot.web import auth, triage
from bot.web.pages import SECURITY_HEADERS, Page, category_name, redirect
from storage import audit, canned, cases, evidence, officers, unions
from storage.localtime import LOCAL_TIME
from storage.models import CASE_KINDS, CASE_STATUSES, Case, Officer, Union, Ward, Workplace
from storage.statistics import admitted_on

VIEWS = cases.QUEUE_VIEWS
PAGE_SIZE = 50
MAX_REPLY = 4000

# ---------------------------------------------------------------------------- login


async def login_form(current: Page, error: str | None = None, status: int = 200) -> web.Response:
    token = current.request.cookies.get(auth.LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = current.render("login.html", status=status, csrf=token, error=error)
    auth.set_cookie(response, current.request, auth.LOGIN_COOKIE, token)
    return response


async def login_page(current: Page) -> web.StreamResponse:
    return await login_form(current)


async def login_submit(current: Page) -> web.StreamResponse:
    request = current.request
    form = current.form
    if not auth.csrf_ok(request.cookies.get(auth.LOGIN_COOKIE, ""), form.get("csrf")):
        return await login_form(current, _("This form has expired. Please try again."), 403)
    address = auth.client_address(request, current.services.settings.trusted_proxies)
    if not request.app[auth.ADDRESSES].allow(address, current.now):
        return await login_form(current, _("Too many attempts. Wait 15 minutes."), 429)
    name, password = str(form.get("login", ""))[:100], str(form.get("password", ""))[:200]
    vault = current.services.vault
    turn = await auth.take_turn(current.session, vault, name, current.now)
    wait = math.ceil(turn.total_seconds())
    if wait > 0:  # not even checked; the same for a login that does not exist
        text = _("Wait {seconds} seconds before trying again.").format(seconds=wait)
        response = await login_form(current, text, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    result = await auth.log_in(current.session, vault, name, password, current.now)
    if result is None:
        return await login_form(current, _("Wrong login or password."), 401)
    await auth.succeeded(current.session, vault, name, current.now)
    token, _row = result
    response = redirect("/officer/queue")
    auth.set_cookie(response, request, auth.COOKIE, token)
    response.del_cookie(auth.LOGIN_COOKIE, path=auth.PATH)
    return response


async def logout(current: Page) -> web.StreamResponse:
    await auth.log_out(current.session, current.services.vault, current.request)
    response = redirect("/officer/login")
    response.del_cookie(auth.COOKIE, path=auth.PATH)
    return response


# ---------------------------------------------------------------------------- the queue


@dataclass(frozen=True, slots=True)
class Selection:
    """A queue view and its filters, read from the query string (anything unknown ignored)."""

    view: str
    where: Any  # the access condition for this view
    filters: dict[str, Any]
    open_only: bool


def _selection(current: Page, scope: access.Scope) -> Selection:
    query = current.request.query
    view = query.get("view", "new")
    if view not in VIEWS:
        view = "new"
    assert current.login is not None
    status = query.get("status") if query.get("status") in CASE_STATUSES else None
    kind = query.get("kind") if query.get("kind") in CASE_KINDS else None
    category = query.get("category") if query.get("category") in labels.FILTER_CATEGORIES else None
    filters: dict[str, Any] = {
        "status": status if view == "all" else None,
        "kind": kind,
        "category": category,
        "workplace_id": whole_number(query.get("workplace")),
        "ward_id": whole_number(query.get("ward")),
        "text": query.get("q", "").strip()[:100] or None,
    }
    condition = cases.view_condition(view, current.login.officer.id, current.now)
    where = and_(scope.visible() if view == "all" else scope.actionable(), condition)
    return Selection(view, where, filters, open_only=view != "all")


async def queue(current: Page) -> web.StreamResponse:
    """/officer/queue?view=new|mine|overdue|waiting|all plus filters and search: what needs
    action first, each row with what the officer needs to choose (see `_rows`)."""
    scope = await current.scope()
    chosen_view = _selection(current, scope)
    view = chosen_view.view
    query = current.request.query
    page_number = whole_number(query.get("page")) or 1
    found = await cases.listing(
        current.session,
        chosen_view.where,
        now=current.now,
        open_only=chosen_view.open_only,
        limit=PAGE_SIZE + 1,
        offset=(page_number - 1) * PAGE_SIZE,
        **chosen_view.filters,
    )
    listed = found[:PAGE_SIZE]
    rows = await _rows(current, listed)
    audit.record(
        current.session, actor="officer", officer_id=scope.officer_id, action="queue.viewed",
        now=current.now, detail={"view": view, "shown": len(rows)},
    )  # fmt: skip
    chosen = {k: v for k, v in query.items() if k not in ("page", "done") and v}
    return current.render(
        "queue.html",
        export=urlencode(chosen),
        here="/officer/queue?" + urlencode(chosen),
        view=view,
        views=VIEWS,
        rows=rows,
        chosen=chosen,
        filtered=sum(1 for value in chosen_view.filters.values() if value is not None),
        places=await _places(current, scope),
        colleagues=await _colleagues(current, scope, listed),
        done=_bulk_done(query.get("done")),
        next_page=urlencode({**chosen, "page": page_number + 1})
        if len(found) > PAGE_SIZE
        else None,
    )


async def _row(current: Page, case: Case) -> dict[str, Any]:
    union = await current.session.get(Union, case.union_id)
    place = await current.session.get(Workplace, case.workplace_id) if case.workplace_id else None
    assignee = await current.session.get(Officer, case.assignee_id) if case.assignee_id else None
    open_ = case.status in cases.OPEN_STATUSES
    return {
        "case": case,
        "union": union.name if union else "-",
        "place": place.name if place else (case.details or {}).get("workplace_text") or "-",
        "assignee": assignee.name if assignee else None,
        "overdue": open_ and case.due_at is not None and case.due_at < current.now,
    }


async def _rows(current: Page, found: Sequence[Case]) -> list[dict[str, Any]]:
    """The queue's rows: a case's heading, the first words the worker wrote, how old it is,
    the time left to its due time (on time, due today, overdue), urgency, the worker's
    messages the officer has not read, who has it, its union. Read in a few queries for the
    whole page, not a few per row."""
    assert current.login is not None
    ids = [c.id for c in found]
    first = await cases.previews(current.session, ids)
    unread = await cases.unread(current.session, ids, current.login.officer.id)
    rows = []
    for case in found:
        row = await _row(current, case)  # unions, places, officers: cached by the session
        due = triage.due_state(case, current.now)
        row.update(
            preview=triage.preview(first.get(case.id, "")),
            age=triage.ago(current.now - case.created_at),
            due=due,
            due_text=triage.due_text(case, current.now) if due else "",
            urgent=(case.details or {}).get("urgency") == cases.URGENT,
            unread=unread.get(case.id, 0),
        )
        rows.append(row)
    return rows


async def _colleagues(
    current: Page, scope: access.Scope, listed: Sequence[Case]
) -> list[tuple[str, list[tuple[int, str]]]]:
    """Whom a bulk "assign" can give the listed cases to, by union: the active officers of
    the unions of the cases this officer may act on (an admin: of any union). Each case is
    checked again when the action comes (`may_take`), so no one can be given a case out of
    their reach."""
    union_ids = sorted({case.union_id for case in listed if scope.can_act(case)})
    groups: dict[int, list[tuple[int, str]]] = {}
    for officer in await officers.in_unions(current.session, union_ids):
        groups.setdefault(officer.union_id, []).append((officer.id, officer.name))
    named = []
    for union_id, members in groups.items():
        union = await current.session.get(Union, union_id)  # cached: the rows read it
        named.append((union.name if union else "-", members))
    return sorted(named)


async def _places(current: Page, scope: access.Scope) -> dict[str, list[tuple[int, str]]]:
    """Workplaces and wards for the filters: those of the officer's unions (all for admins)."""
    directory = await unions.places(current.session, scope.unions)
    return {"workplaces": directory[0], "wards": directory[1]}


EXPORT_LIMIT = 10_000
# The export's columns as officers read them (msgids), in the order of `_export_row`.
EXPORT_COLUMNS = (
    N_("Code"), N_("Kind"), N_("Category"), N_("Status"), N_("Union"), N_("Workplace"),
    N_("Ward"), N_("Anonymous"), N_("Sent"), N_("Due"), N_("First answer"), N_("Ended"),
    N_("Officer"), N_("Reporter"),
)  # fmt: skip
# Times in the export: Vietnam's time, written year first ("2026-12-09 17:00"). A spreadsheet
# reads that as a date and time whatever its regional settings, and it sorts as text too;
# "9/12/2026" would be read as 12 September where the computer is set to US English (common
# in Vietnam), and left as text where the day is over 12.
EXPORT_TIME = "%Y-%m-%d %H:%M"


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ or a control character
    is prefixed with an apostrophe (CSV/formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else text


def csv_download(text: str, name: str) -> web.Response:
    """A CSV file to download as `name`."""
    return web.Response(
        # A byte-order mark, so spreadsheet programs read the Vietnamese letters as UTF-8.
        body=("\ufeff" + text).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


async def export(current: Page) -> web.StreamResponse:
    """/officer/export.csv with the queue's view and filters: one row per case; contact
    details only for named cases, never anything identifying for anonymous ones."""
    scope = await current.scope()
    chosen = _selection(current, scope)
    found = await cases.listing(
        current.session, chosen.where, open_only=chosen.open_only, limit=EXPORT_LIMIT,
        **chosen.filters,
    )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_(column) for column in EXPORT_COLUMNS)
    for case in found:
        writer.writerow(spreadsheet_safe(value) for value in await _export_row(current, case))
    audit.record(
        current.session, actor="officer", officer_id=scope.officer_id, action="cases.exported",
        now=current.now, detail={"view": chosen.view, "rows": len(found)},
    )  # fmt: skip
    local = current.now.astimezone(LOCAL_TIME)
    return csv_download(out.getvalue(), f"ho-so-{local:%Y%m%d-%H%M}.csv")


async def _export_row(current: Page, case: Case) -> list[str | None]:
    """One case in the export, as the dashboard shows it (labels, not stored codes); contact
    details only for a named case, nothing identifying for an anonymous one."""
    row = await _row(current, case)
    ward = await current.session.get(Ward, case.ward_id) if case.ward_id else None
    contact = casework.contact(current.services, case)
    return [
        case.code, _(labels.OFFICER_KINDS[case.kind]),
        category_name(current.services, case.kind, case.category),
        _(labels.OFFICER_STATUSES[case.status]), row["union"], row["place"],
        ward.name if ward else (case.details or {}).get("ward_text"),
        _("Yes") if case.anonymous else _("No"), _local(case.created_at), _local(case.due_at),
        _local(case.first_response_at), _local(case.closed_at), row["assignee"],
        " · ".join(contact.values()) if contact else None,
    ]  # fmt: skip


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_TIME).strftime(EXPORT_TIME) if moment else None


# ---------------------------------------------------------------------------- one case


async def _case(current: Page, act: bool) -> tuple[access.Scope, Case | None]:
    scope = await current.scope()
    code = current.request.match_info["code"][:30]
    found = await access.case_for(current.session, scope, current.now, code=code, act=act)
    return scope, found


def _no_case(current: Page) -> web.Response:
    # The same answer whether the case is out of reach or does not exist.
    return current.refuse(403, _("You cannot open this request, or it does not exist."))


async def case_page(current: Page) -> web.StreamResponse:
    scope, case = await _case(current, act=False)
    if case is None:
        return _no_case(current)
    audit.record(
        current.session, actor="officer", officer_id=scope.officer_id, action="case.viewed",
        case_id=case.id, now=current.now,
    )  # fmt: skip
    session = current.session
    names = {o.id: o.name for o in await officers.in_unions(session, [case.union_id])}
    thread = await cases.thread(session, case.id, limit=500)
    authors = {m.officer_id for m in thread if m.officer_id and m.officer_id not in names}
    for officer_id in authors:
        author = await session.get(Officer, officer_id)
        names[officer_id] = author.name if author else "-"
    union = await session.get(Union, case.union_id)
    parent = await session.get(Union, union.parent_id) if union and union.parent_id else None
    return current.render(
        "case.html",
        case=case,
        row=await _row(current, case),
        ward=await session.get(Ward, case.ward_id) if case.ward_id else None,
        thread=thread,
        names=names,
        files=await evidence.for_case(session, case.id),
        contact=casework.contact(current.services, case),
        erased=await alerts.erased(session, case),
        details=_details(case),
        admitted=_admitted(case),
        can_act=scope.can_act(case),
        colleagues=_takers(names, case, _officer(current)),
        canned=await canned.all_replies(session),
        parent=parent,
        done=current.request.query.get("done"),
    )


def _takers(names: Mapping[int, str], case: Case, me: Officer) -> list[tuple[int, str]]:
    """Whom the case page can give the case to: its union's officers, and an admin viewing it
    (so an admin can claim it too)."""
    takers = dict(names)
    if me.role == "admin":
        takers[me.id] = me.name
    return sorted(takers.items(), key=lambda item: item[1])


def _admitted(case: Case) -> str | None:
    """The day the worker was confirmed as admitted, as officers read dates: '5/12/2026'."""
    day = admitted_on(case.details)
    return format_date(day) if day else None


def _details(case: Case) -> Mapping[str, str]:
    """The form's answers that identify nobody, as the officer reads them."""
    details = case.details or {}
    shown = {}
    for key, name in labels.DETAIL_NAMES.items():
        if details.get(key):
            value = str(details[key])
            known = labels.detail(key, value)
            shown[_(name)] = _(known) if known else value
    return shown


async def case_file(current: Page) -> web.StreamResponse:
    """One evidence file, to an officer who may read the case; always as a download."""
    scope, case = await _case(current, act=False)
    file_id = whole_number(current.request.match_info["file"])
    if case is None or file_id is None:
        return _no_case(current)
    row = await evidence.content(current.session, case.id, file_id)
    if row is None or row.content is None:
        return current.refuse(404, _("No such file."))
    audit.record(
        current.session, actor="officer", officer_id=scope.officer_id, action="evidence.viewed",
        case_id=case.id, now=current.now, detail={"file": row.id},
    )  # fmt: skip
    extension = {
        "image/jpeg": "jpg", "application/pdf": "pdf", "audio/ogg": "ogg", "audio/amr": "amr",
    }  # fmt: skip
    name = f"{case.code}-{row.id}.{extension.get(row.mime or '', 'bin')}"
    return web.Response(
        body=row.content,
        content_type=row.mime or "application/octet-stream",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


async def case_action(current: Page) -> web.StreamResponse:
    """POST /officer/case/{code}/{action}: reply, note, status, assign, admit, escalate."""
    case = (await _case(current, act=True))[1]
    if case is None:
        return _no_case(current)
    action = current.request.match_info["action"]
    act = ACTIONS.get(action)
    if act is None:
        return current.refuse(404, _("Unknown action."))
    form = current.form
    return await act(current, case, form)


Form = Mapping[str, Any]


def _officer(current: Page) -> Officer:
    assert current.login is not None
    return current.login.officer


async def _written(current: Page, case: Case, form: Form) -> web.StreamResponse:
    """Reply (typed or a canned answer) or note."""
    action = current.request.match_info["action"]
    text = str(form.get("text", "")).strip()
    canned_id = whole_number(str(form.get("canned", "")))
    if action == "reply" and canned_id is not None:
        ready = await canned.get(current.session, canned_id)
        text = ready.text if ready else ""
    if not text or len(text) > MAX_REPLY:
        return current.refuse(400, _("Write between 1 and {limit} characters.").format(
            limit=MAX_REPLY))  # fmt: skip
    officer = _officer(current)
    if action == "note":
        casework.note(current.session, case, text, current.now, officer.id)
        return _done(case, action)
    told = await casework.reply(current.session, current.services, case, text, current.now,
                                officer.id)  # fmt: skip
    if not told:  # the sender erased their data: kept in the thread, sent to nobody
        return _done(case, "unreachable")
    current.send(told)
    return _done(case, action)


async def _status(current: Page, case: Case, form: Form) -> web.StreamResponse:
    status = form.get("status")
    if status not in CASE_STATUSES:
        return current.refuse(400, _("Unknown status."))
    current.send(await casework.set_status(
        current.session, current.services, case, str(status), current.now, _officer(current).id
    ))  # fmt: skip
    return _done(case, "status")


def may_take(officer: Officer | None, case: Case) -> bool:
    """Who can be given a case: an active officer of its union, or an active admin."""
    if officer is None or not officer.active:
        return False
    return officer.role == "admin" or officer.union_id == case.union_id


async def _assign(current: Page, case: Case, form: Form) -> web.StreamResponse:
    assignee = await current.session.get(Officer, whole_number(str(form.get("officer", ""))) or 0)
    if not may_take(assignee, case):
        return current.refuse(400, _("That officer cannot take this request."))
    assert assignee is not None
    current.send(await casework.assign(
        current.session, current.services, case, assignee.id, current.now, _officer(current).id
    ))  # fmt: skip
    return _done(case, "assign")


async def _admit(current: Page, case: Case, form: Form) -> web.StreamResponse:
    try:
        told = await casework.admit(
            current.session, current.services, case, current.now, _officer(current).id
        )
    except casework.NotAllowed:
        return current.refuse(400, _("Only a membership request can be confirmed."))
    except casework.AlreadyAdmitted:
        return current.refuse(400, _(casework.ALREADY_ADMITTED).format(code=case.code))
    current.send(told)
    return _done(case, "admit")


async def _escalate(current: Page, case: Case, form: Form) -> web.StreamResponse:
    parent, told = await casework.pass_up(
        current.session, current.services, case, current.now, _officer(current).id
    )
    if parent is None:
        return current.refuse(400, _("This request is already with the top union."))
    current.send(told)
    if not (await current.scope()).can_view(case):
        return redirect("/officer/queue")  # passed up out of this union's sight
    return _done(case, "escalate")


def _done(case: Case, what: str) -> web.Response:
    return redirect(f"/officer/case/{case.code}?done={what}")


ACTIONS = {
    "reply": _written,
    "note": _written,
    "status": _status,
    "assign": _assign,
    "admit": _admit,
    "escalate": _escalate,
}


# ---------------------------------------------------------------------------- bulk


MAX_BULK = 200
BULK_DONE = {
    "claim": N_("Claimed {done} requests."),
    "assign": N_("Gave {done} requests to the chosen officer."),
    "close": N_("Resolved {done} requests."),
    "escalate": N_("Passed {done} requests up to the union above."),
}
BULK_SKIPPED = N_("{skipped} could not be changed (out of your reach, or not possible).")


async def bulk(current: Page) -> web.StreamResponse:
    """POST /officer/queue/bulk: claim, assign, resolve or pass up the ticked requests (or
    the one a row's own button names), each as from its case page; back to the queue."""
    form = current.form
    do = str(form.get("do", ""))
    if do not in BULK_DONE:
        return current.refuse(400, _("Unknown action."))
    codes = [str(code)[:30] for code in form.getall("case", [])][:MAX_BULK]
    me = _officer(current)
    taker = me if do == "claim" else None
    if do == "assign":
        taker = await current.session.get(Officer, whole_number(str(form.get("officer", ""))) or 0)
    scope = await current.scope()
    done = 0
    for code in dict.fromkeys(codes):
        case = await access.case_for(current.session, scope, current.now, code=code, act=True)
        if case is not None and await _bulk_one(current, case, do, taker):
            done += 1
    back = str(form.get("back", ""))
    back = back if back.startswith("/officer/queue?") else "/officer/queue?view=new"
    return redirect(f"{back}&{urlencode({'done': f'{do}:{done}:{len(codes) - done}'})}")


async def _bulk_one(current: Page, case: Case, do: str, taker: Officer | None) -> bool:
    """One request of a bulk action; whether it was done."""
    me, session, services, now = _officer(current), current.session, current.services, current.now
    if do in ("claim", "assign"):
        if taker is None or not may_take(taker, case) or case.status not in cases.OPEN_STATUSES:
            return False
        if case.assignee_id != taker.id:
            current.send(await casework.assign(session, services, case, taker.id, now, me.id))
        return True
    if do == "close":
        if case.status not in cases.OPEN_STATUSES:
            return False
        current.send(await casework.set_status(session, services, case, "resolved", now, me.id))
        return True
    parent, told = await casework.pass_up(session, services, case, now, me.id)
    current.send(told)
    return parent is not None


def _bulk_done(done: str | None) -> str | None:
    """The notice after a bulk action, from ?done=action:done:skipped."""
    parts = (done or "").split(":")
    if len(parts) != 3 or parts[0] not in BULK_DONE:
        return None
    action, done_count, skipped = parts[0], whole_number(parts[1]), whole_number(parts[2])
    if done_count is None or skipped is None:
        return None
    text = _(BULK_DONE[action]).format(done=done_count)
    return text + (" " + _(BULK_SKIPPED).format(skipped=skipped) if skipped else "")


async def home(current: Page) -> web.StreamResponse:
    return redirect("/officer/queue")
