"""“My requests”: the person's cases with their code, status and date."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from bot.services.crypto import Vault
from bot.services.i18n import N_, _, format_date, format_datetime
from handlers import menu
from handlers.types import Context, Incoming, Outgoing, StaleButton
from storage import cases
from storage.models import Case

KIND_NAMES = {
    "question": N_("Question"),
    "membership": N_("Joining"),
    "grievance": N_("Report"),
    "support": N_("Support"),
}
STATUS_NAMES = {
    "new": N_("received"),
    "assigned": N_("being handled"),
    "waiting_worker": N_("waiting for your answer"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}
SHOWN = 5
MAX_PIN_FAILURES = 5  # per person and day: 6 digits must not be guessable through the bot


async def show(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The five most recent requests, newest first."""
    recent = await cases.for_person(
        ctx.session, ctx.person.id, reporter_tag(ctx, ctx.person.id), limit=SHOWN
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
        kind=_(KIND_NAMES[case.kind]),
        status=_(STATUS_NAMES[case.status]),
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


def new_pin(ctx: Context, case: Case) -> str:
    """A 6-digit PIN for an anonymous case; only its keyed hash is kept."""
    pin = f"{secrets.randbelow(10**6):06d}"
    case.pin_tag = ctx.services.vault.tag(f"pin:{case.code}:{pin}")
    return pin


def pin_notice(ctx: Context, case: Case) -> str:
    """The PIN of a new anonymous case, told once, with how to use it."""
    return _(
        "Your PIN: {pin}. Keep it safe: with the request code and this PIN you can check the "
        "request from another phone or account: /tracuu {code} {pin}"
    ).format(pin=new_pin(ctx, case), code=case.code)


async def look_up(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/tracuu CODE PIN: an anonymous reporter looks a case up from any account."""
    args = (msg.text or "").split()[1:]
    failures = [
        at for at in ctx.state.get("pin_failures", [])
        if datetime.fromisoformat(at) > ctx.now - timedelta(days=1)
    ]  # fmt: skip
    if len(failures) >= MAX_PIN_FAILURES:
        text = _("Too many wrong tries. Please try again tomorrow.")
        return [ctx.reply(text, menu.main_menu())]
    if len(args) != 2:
        return [
            ctx.reply(
                _("Send: /tracuu REQUEST-CODE PIN, for example /tracuu KN-2026-000123 123456")
            )
        ]
    code, pin = args[0].upper(), args[1]
    case = await cases.by_code(ctx.session, code)
    expected = case.pin_tag if case is not None else None
    given = ctx.services.vault.tag(f"pin:{code}:{pin}")
    if expected is None or not hmac.compare_digest(expected, given):
        ctx.state["pin_failures"] = [*failures, ctx.now.isoformat()]
        return [ctx.reply(_("The request code or the PIN is not right."), menu.main_menu())]
    assert case is not None
    return [ctx.reply(describe(case), menu.main_menu())]


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """status:list."""
    if msg.payload != "status:list":
        raise StaleButton(msg.payload)
    return await show(ctx, msg)


def reporter_tag(ctx: Context, person_id: int) -> str:
    """The tag that links a person to their anonymous cases (only with the key)."""
    return tag_reporter(ctx.services.vault, person_id)


def tag_reporter(vault: Vault, person_id: int | str) -> str:
    return vault.tag(f"reporter:{person_id}")


def reporter(ctx: Context, anonymous: bool) -> dict[str, object]:
    """The Case columns that say who filed it: the person, or for an anonymous case only a
    sealed copy (to relay answers) and the tag (for their own "My requests")."""
    if not anonymous:
        return {"person_id": ctx.person.id}
    return {
        "person_id": None,
        "reporter_sealed": ctx.services.vault.seal(str(ctx.person.id)),
        "reporter_tag": reporter_tag(ctx, ctx.person.id),
    }
