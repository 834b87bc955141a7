"""“My requests” (/hoso, the menu button) and /tracuu CODE PIN: a worker's own cases with their
code, status, date and what happens next; the PIN told once when an anonymous case is filed."""

from __future__ import annotations

from bot.services import reporters
from bot.services.i18n import _, format_date, format_datetime
from bot.services.labels import WORKER_KINDS, WORKER_STATUSES
from handlers import menu
from handlers.payloads import MyRequests
from handlers.types import Context, Incoming, Outgoing
from storage import cases
from storage.localtime import LOCAL_TIME
from storage.models import Case

SHOWN = 5


async def show(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The five most recent requests, newest first."""
    recent = await cases.for_person(
        ctx.session, ctx.person.id, await anonymous_ids(ctx), limit=SHOWN
    )
    if not recent:
        text = _("You have not sent any request yet. When you do, its code will show here.")
        return [ctx.reply(text, menu.main_menu())]
    lines = [_("Your requests:")]
    lines.extend(describe(case) for case in recent)
    return [ctx.reply("\n".join(lines), menu.main_menu())]


def describe(case: Case) -> str:
    """One case as the worker reads it: code, kind, status, date, and what happens next."""
    line = _("{code} · {kind} · {status} · sent {date}").format(
        code=case.code,
        kind=_(WORKER_KINDS[case.kind]),
        status=_(WORKER_STATUSES[case.status]),
        date=format_date(case.created_at),
    )
    if case.status == "new" and case.first_response_due_at:
        nxt = _("an officer answers by {due}").format(
            due=format_datetime(case.first_response_due_at)
        )
    elif case.status in ("new", "assigned"):
        nxt = _("an officer is looking into it")
    elif case.status == "waiting_worker":
        nxt = _("the officer is waiting for your answer")
    else:
        nxt = _("finished")
    return f"{line}\n  → {nxt}"


def pin_notice(ctx: Context, case: Case) -> str:
    """The PIN of a new anonymous case, told once, with how to use it."""
    return _(
        "Your PIN: {pin}. Keep it safe: with the request code and this PIN you can check the "
        "request from another phone or account: /tracuu {code} {pin}"
    ).format(pin=reporters.new_pin(ctx.services.vault, case), code=case.code)


async def look_up(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/tracuu CODE PIN: an anonymous reporter looks a case up from any account."""
    args = (msg.text or "").split()[1:]
    if len(args) != 2:
        return [
            ctx.reply(
                _("Send: /tracuu REQUEST-CODE PIN, for example /tracuu KN-2026-000123 123456")
            )
        ]
    code, pin = args[0].upper()[:30], args[1][:12]
    case = await cases.by_code(ctx.session, code)
    # Counted per case, whoever tries: a new account or a cancelled form starts nothing anew.
    today = ctx.now.astimezone(LOCAL_TIME).date()
    if case is not None and reporters.pin_locked(case, today):
        text = _("Too many wrong tries. Please try again tomorrow.")
        return [ctx.reply(text, menu.main_menu())]
    matched = reporters.pin_matches(ctx.services.vault, case, code, pin)
    if case is None or not matched:
        if case is not None:
            reporters.count_wrong_pin(case, today)
        return [ctx.reply(_("The request code or the PIN is not right."), menu.main_menu())]
    return [ctx.reply(describe(case), menu.main_menu())]


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """status:list (the menu's "My requests")."""
    MyRequests.unpack(msg.payload)
    return await show(ctx, msg)


async def anonymous_ids(ctx: Context) -> list[int]:
    """The person's anonymous cases (their sealed list, bot/services/reporters.py)."""
    return await reporters.case_ids(ctx.session, ctx.services.vault, ctx.person)
