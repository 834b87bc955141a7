"""The officer side on Telegram: link an account, see the queue, work a case in one tap.

- /canbo CODE links the sender's Telegram account to the officer the one-time code was made
  for (`unionbot officer add` / `invite`).
- /queue lists the open cases of the officer's union and the unions below it, most urgent
  first; /case CODE shows one with its thread.
- Buttons o:<action>:<case id>: claim, reply (the officer's next message is copied to the
  worker), note (internal), move (to a colleague, or up to the parent union), resolve.

Whoever is not a linked officer sees /queue and /case as unknown commands and o: buttons as
stale ones. Every case is reached through bot/services/access.py, every view and action is
audited, and an anonymous reporter's identity is never shown.
"""

from __future__ import annotations

from bot.services import access, accounts, alerts, casework, labels
from bot.services.i18n import N_, _, format_datetime
from handlers import menu
from handlers.payloads import OfficerAction
from handlers.types import Address, Button, Context, Incoming, Outgoing, StaleButton
from storage import audit, cases, officers
from storage.models import Case, Officer, Union

QUEUE_SIZE = 10
THREAD_SIZE = 8
MAX_TEXT = 3000
UNREACHABLE = N_(
    "{code}: the sender deleted their data, so a reply can no longer reach them. You can add "
    "an internal note."
)
AUTHORS = {
    "worker": N_("Worker"),
    "officer": N_("Officer"),
    "system": N_("System"),
    "note": N_("Internal note"),
}


async def officer_of(ctx: Context) -> Officer | None:
    """The linked officer behind this message, if the sender is one."""
    if ctx.address.channel != ctx.services.settings.officer_channel:
        return None
    return await officers.by_telegram(ctx.session, ctx.person.channel_user_id)


def _private(ctx: Context, officer: Officer) -> Address:
    """The officer's own chat (a group's button press is answered there when it needs text)."""
    return Address(
        ctx.services.settings.officer_channel, str(officer.telegram_user_id), ctx.person.id
    )


# ---------------------------------------------------------------------------- linking


async def link(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/canbo CODE: link this Telegram account to an officer account."""
    code = (msg.text or "").partition(" ")[2][:40]
    if ctx.address.channel != ctx.services.settings.officer_channel or not accounts.normalise_code(
        code
    ):
        return [ctx.reply(_("Send /canbo followed by the code you were given."))]
    tag = accounts.invite_tag(ctx.services.vault, code)
    found = await officers.by_invite(ctx.session, tag, ctx.now)
    if found is None:
        return [ctx.reply(_("That code is wrong or has expired. Ask your administrator."))]
    taken = await officers.by_telegram(ctx.session, ctx.person.channel_user_id)
    if taken is not None and taken.id != found.id:
        taken.telegram_user_id = None  # one Telegram account, one officer
    found.telegram_user_id = ctx.person.channel_user_id
    found.invite_tag = None
    found.invite_expires_at = None
    audit.record(
        ctx.session, actor="officer", officer_id=found.id, action="officer.linked", now=ctx.now
    )
    union = await ctx.session.get(Union, found.union_id)
    text = _(
        "Linked: you are {name}, {union}. New requests will be announced here. "
        "Send /queue to see the open ones."
    ).format(name=found.name, union=union.name if union else "-")
    return [ctx.reply(text)]


# ---------------------------------------------------------------------------- reading


async def queue(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/queue: the open cases of the officer's unions, overdue and soonest due first."""
    officer = await officer_of(ctx)
    if officer is None:
        return await menu.unknown_command(ctx, msg)
    scope = await access.scope(ctx.session, officer)
    open_cases = await cases.listing(
        ctx.session, scope.actionable(), open_only=True, limit=QUEUE_SIZE + 1
    )
    audit.record(
        ctx.session, actor="officer", officer_id=officer.id, action="queue.viewed", now=ctx.now,
        detail={"shown": min(len(open_cases), QUEUE_SIZE)},
    )  # fmt: skip
    if not open_cases:
        return [ctx.reply(_("Your queue is empty: no open requests."))]
    lines = [_("Open requests (most urgent first):")]
    rows = []
    for case in open_cases[:QUEUE_SIZE]:
        lines.append(_queue_line(case, officer, ctx))
        rows.append((Button(case.code, OfficerAction("view", case.id).pack()),))
    if len(open_cases) > QUEUE_SIZE:
        lines.append(_("…and more: the web dashboard lists them all."))
    return [ctx.reply("\n".join(lines), rows)]


def _queue_line(case: Case, officer: Officer, ctx: Context) -> str:
    due = case.due_at
    mark = "⚠️ " if due is not None and due < ctx.now else ""
    mine = _(" · yours") if case.assignee_id == officer.id else ""
    when = _("due {due}").format(due=format_datetime(due)) if due else ""
    return f"{mark}{case.code} · {_(labels.OFFICER_STATUSES[case.status])}{mine} · {when}"


async def show_case(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/case CODE: one case, if the officer may read it."""
    officer = await officer_of(ctx)
    if officer is None:
        return await menu.unknown_command(ctx, msg)
    parts = (msg.text or "").split()
    if len(parts) < 2:
        return [ctx.reply(_("Send /case followed by a request code, e.g. /case KN-2026-000001."))]
    scope = await access.scope(ctx.session, officer)
    case = await access.case_for(ctx.session, scope, ctx.now, code=parts[1][:30])
    if case is None:
        return [ctx.reply(_not_found())]
    return [await _details(ctx, scope, case)]


def _not_found() -> str:
    return _("No such request in your unions' queues.")


async def _details(ctx: Context, scope: access.Scope, case: Case) -> Outgoing:
    audit.record(
        ctx.session, actor="officer", officer_id=scope.officer_id, action="case.viewed",
        case_id=case.id, now=ctx.now,
    )  # fmt: skip
    lines = [await alerts.heading(ctx.session, case)]
    details = casework.contact(ctx.services, case)
    if details:
        lines.append(_("Contact: {details}").format(details=" · ".join(details.values())))
    thread = await cases.thread(ctx.session, case.id, limit=THREAD_SIZE)
    if thread:
        lines.append("")
    for entry in thread:
        who = _(AUTHORS[entry.author])
        lines.append(f"[{who}, {format_datetime(entry.created_at)}]\n{alerts.thread_text(entry)}")
    keyboard = alerts.actions(case) if scope.can_act(case) else ()
    return ctx.reply("\n".join(lines), keyboard)


# ---------------------------------------------------------------------------- acting


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """o:<action>:<case id>[:<argument>]."""
    pressed = OfficerAction.unpack(msg.payload)
    officer = await officer_of(ctx)
    if officer is None:
        raise StaleButton(msg.payload)
    action, case_id, argument = pressed.verb, pressed.case_id, pressed.argument
    if (argument is not None) != (action == "give"):
        raise StaleButton(msg.payload)
    if ctx.address.chat_id != officer.telegram_user_id and not await officers.group_at(
        ctx.session, ctx.address.channel, ctx.address.chat_id
    ):
        # Pressed in a group that is not registered (a forwarded alert, say): answer in the
        # officer's private chat, so nothing about the case reaches that group.
        ctx.address = _private(ctx, officer)
    scope = await access.scope(ctx.session, officer)
    case = await access.case_for(ctx.session, scope, ctx.now, case_id=case_id, act=action != "view")
    if case is None:
        return [ctx.reply(_not_found())]
    if action == "view":
        return [await _details(ctx, scope, case)]
    if action == "claim":
        return await _claim(ctx, officer, case)
    if action == "reply" and await alerts.erased(ctx.session, case):
        return [ctx.reply(_(UNREACHABLE).format(code=case.code), alerts.actions(case))]
    if action in ("reply", "note"):
        return _start_writing(ctx, officer, case, action)
    if action == "move":
        return await _move_choices(ctx, officer, case)
    if action == "up":
        return await _escalate(ctx, scope, officer, case)
    if action == "give" and argument is not None:
        return await _give(ctx, scope, officer, case, argument)
    if action == "admit":
        return await _admit(ctx, officer, case)
    return await _resolve(ctx, officer, case)


async def _claim(ctx: Context, officer: Officer, case: Case) -> list[Outgoing]:
    if case.assignee_id == officer.id:
        return [ctx.reply(_("{code} is already yours.").format(code=case.code))]
    told = await casework.assign(ctx.session, ctx.services, case, officer.id, ctx.now, officer.id)
    done = (
        _("{code} is now yours (the sender deleted their data, so nobody was told).")
        if await alerts.erased(ctx.session, case)
        else _("{code} is now yours. The worker has been told it is being handled.")
    )
    return [ctx.reply(done.format(code=case.code), alerts.actions(case)), *told]


def _start_writing(ctx: Context, officer: Officer, case: Case, mode: str) -> list[Outgoing]:
    ctx.state.clear()
    ctx.state.update(flow="officer_write", case=case.id, mode=mode)
    text = (
        _("Write your answer to the worker about {code} in one message. It is copied to them "
          "from the union, not forwarded. Send /huy to stop.")
        if mode == "reply"
        else _("Write an internal note on {code} in one message. The worker never sees it. "
               "Send /huy to stop.")
    )  # fmt: skip
    return [Outgoing(_private(ctx, officer), text.format(code=case.code))]


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The officer's reply or note, after they pressed Reply or Note."""
    officer = await officer_of(ctx)
    text = (msg.text or "").strip()
    case_id, mode = ctx.state.get("case"), ctx.state.get("mode")
    if officer is None or not isinstance(case_id, int):
        ctx.state.clear()
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    if not text:
        return [ctx.reply(_("Please write it as text. Send /huy to stop."))]
    if len(text) > MAX_TEXT:
        too_long = _("That is too long (at most {limit} characters). Please shorten it.")
        return [ctx.reply(too_long.format(limit=MAX_TEXT))]
    scope = await access.scope(ctx.session, officer)
    case = await access.case_for(ctx.session, scope, ctx.now, case_id=case_id, act=True)
    ctx.state.clear()
    if case is None:
        return [ctx.reply(_not_found())]
    if mode == "note":
        casework.note(ctx.session, case, text, ctx.now, officer.id)
        return [ctx.reply(_("Note added to {code}.").format(code=case.code), alerts.actions(case))]
    told = await casework.reply(ctx.session, ctx.services, case, text, ctx.now, officer.id)
    sent = (
        _("Sent to the worker on {code}.")
        if told
        else _("Added to {code}, but the worker can no longer be reached (they deleted their "
               "data).")
    )  # fmt: skip
    return [ctx.reply(sent.format(code=case.code), alerts.actions(case)), *told]


async def _move_choices(ctx: Context, officer: Officer, case: Case) -> list[Outgoing]:
    union = await ctx.session.get(Union, case.union_id)
    rows = []
    if union is not None and union.parent_id is not None:
        parent = await ctx.session.get(Union, union.parent_id)
        if parent is not None:
            label = _("Up to {union}").format(union=parent.name)
            rows.append((Button(label[:60], OfficerAction("up", case.id).pack()),))
    for colleague in await officers.in_unions(ctx.session, [case.union_id]):
        if colleague.id not in (case.assignee_id, officer.id):
            label = _("Give to {name}").format(name=colleague.name)
            rows.append((Button(label[:60], OfficerAction("give", case.id, colleague.id).pack()),))
    if not rows:
        return [ctx.reply(_("There is nobody to move {code} to.").format(code=case.code))]
    return [ctx.reply(_("Move {code} to:").format(code=case.code), rows[:8])]


async def _give(
    ctx: Context, scope: access.Scope, officer: Officer, case: Case, assignee_id: int
) -> list[Outgoing]:
    assignee = await ctx.session.get(Officer, assignee_id)
    if assignee is None or not assignee.active or assignee.union_id != case.union_id:
        raise StaleButton(OfficerAction("give", case.id, assignee_id).pack())
    told = await casework.assign(ctx.session, ctx.services, case, assignee.id, ctx.now, officer.id)
    done = _("{code} is now with {name}.").format(code=case.code, name=assignee.name)
    given = await alerts.given(ctx.session, ctx.services, case, officer, assignee)
    return [ctx.reply(done), *given, *told]


async def _escalate(
    ctx: Context, scope: access.Scope, officer: Officer, case: Case
) -> list[Outgoing]:
    parent, told = await casework.pass_up(ctx.session, ctx.services, case, ctx.now, officer.id)
    if parent is None:
        return [ctx.reply(_("{code} is already with the top union.").format(code=case.code))]
    done = (
        _("{code} moved up to {union}. Your union can still read it.")
        if scope.can_view(case)
        else _("{code} moved up to {union}. To protect the worker, your union no longer sees it.")
    )
    return [ctx.reply(done.format(code=case.code, union=parent.name)), *told]


async def _resolve(ctx: Context, officer: Officer, case: Case) -> list[Outgoing]:
    if case.status in ("resolved", "closed"):
        return [ctx.reply(_("{code} is already resolved.").format(code=case.code))]
    told = await casework.set_status(
        ctx.session, ctx.services, case, "resolved", ctx.now, officer.id
    )
    done = (
        _("{code} is resolved (the sender deleted their data, so nobody was told).")
        if await alerts.erased(ctx.session, case)
        else _("{code} is resolved. The worker has been told.")
    )
    return [ctx.reply(done.format(code=case.code)), *told]


async def _admit(ctx: Context, officer: Officer, case: Case) -> list[Outgoing]:
    """Confirm a membership admission, as on the dashboard."""
    try:
        told = await casework.admit(ctx.session, ctx.services, case, ctx.now, officer.id)
    except casework.NotAllowed:
        raise StaleButton(OfficerAction("admit", case.id).pack()) from None
    except casework.AlreadyAdmitted:
        return [ctx.reply(_(casework.ALREADY_ADMITTED).format(code=case.code))]
    done = _("{code}: admission confirmed. The worker has been told.")
    return [ctx.reply(done.format(code=case.code)), *told]
