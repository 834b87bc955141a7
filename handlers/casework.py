"""What happens to a case after it is filed, as the officer side (Telegram /queue, the web
dashboard) will call it: an officer's reply is copied to the worker, a status change is
told to them, and the worker can answer back through the case.

Messages are copied, never forwarded (a forward shows its sender). For an anonymous case the
worker is found only through the sealed reporter, inside this module; nothing returned to
the officer side names them. Each function records the case thread and the audit log and
returns the worker's messages as replies for the caller to commit with the rest.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services
from bot.services.i18n import N_, _
from handlers import alerts, membership, menu, status
from handlers.types import Address, Button, Context, Incoming, Outgoing, StaleButton
from storage import audit, cases
from storage.models import CASE_STATUSES, Case, CaseMessage, Person, Union


async def recipient(session: AsyncSession, services: Services, case: Case) -> Person | None:
    """The worker behind a case: by id, or by the sealed reporter of an anonymous case."""
    if case.person_id is not None:
        return await session.get(Person, case.person_id)
    if case.reporter_sealed is None:
        return None  # detached by /xoadulieu: nobody to tell
    try:
        person_id = int(services.vault.open(case.reporter_sealed))
    except ValueError:
        return None
    return await session.get(Person, person_id)


def _to(person: Person) -> Address:
    # Private chats only: the chat is the person's own id on their channel.
    return Address(person.channel, person.channel_user_id, person.id)


async def officer_reply(
    session: AsyncSession,
    services: Services,
    case: Case,
    text: str,
    now: datetime,
    officer_id: int | None = None,
) -> list[Outgoing]:
    """Put an officer's answer in the thread and copy it to the worker."""
    session.add(
        CaseMessage(
            case_id=case.id, author="officer", officer_id=officer_id, text=text, created_at=now
        )
    )
    case.updated_at = now
    if case.first_response_at is None:
        case.first_response_at = now
        case.due_at = case.resolution_due_at  # the next stage's due time (None: no target)
    if case.status == "new":
        case.status = "assigned"
    if case.assignee_id is None and officer_id is not None:
        case.assignee_id = officer_id
    audit.record(
        session,
        actor="officer",
        officer_id=officer_id,
        action="case.replied",
        case_id=case.id,
        now=now,
        detail={},
    )
    person = await recipient(session, services, case)
    if person is None:
        return []
    with services.catalogs.activate(person.language):
        body = _("Answer from the union about your request {code}:\n{text}").format(
            code=case.code, text=text
        )
        buttons = ((Button(_("Answer"), f"case:reply:{case.code}"),), (menu.back_to_menu(),))
        return [Outgoing(_to(person), body, buttons)]


async def change_status(
    session: AsyncSession,
    services: Services,
    case: Case,
    new_status: str,
    now: datetime,
    officer_id: int | None = None,
) -> list[Outgoing]:
    """Move a case to another status and tell the worker."""
    if new_status not in CASE_STATUSES:
        raise ValueError(f"unknown case status {new_status!r}")
    old, case.status, case.updated_at = case.status, new_status, now
    if new_status in ("resolved", "closed"):
        case.closed_at = now
    audit.record(
        session,
        actor="officer",
        officer_id=officer_id,
        action="case.status",
        case_id=case.id,
        now=now,
        detail={"from": old, "to": new_status},
    )
    person = await recipient(session, services, case)
    if person is None or old == new_status:
        return []
    with services.catalogs.activate(person.language):
        body = _("Your request {code} is now: {status}.").format(
            code=case.code, status=_(status.STATUS_NAMES[new_status])
        )
        return [Outgoing(_to(person), body, menu.main_menu())]


def add_note(session: AsyncSession, case: Case, text: str, now: datetime, officer_id: int) -> None:
    """An internal note: officers read it, the worker never does."""
    session.add(
        CaseMessage(
            case_id=case.id, author="note", officer_id=officer_id, text=text, created_at=now
        )
    )
    case.updated_at = now
    audit.record(
        session, actor="officer", officer_id=officer_id, action="case.noted", case_id=case.id,
        now=now, detail={},
    )  # fmt: skip


async def assign(
    session: AsyncSession,
    services: Services,
    case: Case,
    assignee_id: int,
    now: datetime,
    officer_id: int,
) -> list[Outgoing]:
    """Give the case to an officer (themselves, when they claim it); a new case is then
    being handled, and the worker is told."""
    case.assignee_id = assignee_id
    case.updated_at = now
    audit.record(
        session, actor="officer", officer_id=officer_id, action="case.assigned", case_id=case.id,
        now=now, detail={"assignee": assignee_id},
    )  # fmt: skip
    if case.status != "new":
        return []
    return await change_status(session, services, case, "assigned", now, officer_id)


async def escalate(
    session: AsyncSession,
    services: Services,
    case: Case,
    now: datetime,
    officer_id: int | None = None,
) -> Union | None:
    """Move the case to the parent union's queue (the union it came from keeps read access);
    the parent union, or None at the root. Whoever calls tells the worker and the officers."""
    current = await session.get(Union, case.union_id)
    if current is None or current.parent_id is None:
        return None
    parent = await session.get(Union, current.parent_id)
    if parent is None:
        return None
    if case.origin_union_id is None:
        case.origin_union_id = case.union_id
    case.union_id = parent.id
    case.escalated = True
    case.assignee_id = None
    if case.status == "assigned":
        case.status = "new"
    case.updated_at = now
    audit.record(
        session, actor="officer" if officer_id else "system", officer_id=officer_id,
        action="case.escalated", case_id=case.id, now=now,
        detail={"from": current.code, "to": parent.code},
    )  # fmt: skip
    return parent


PASSED_UP = N_("Your request {code} has been passed to {union}, which will handle it from now on.")
CONTACT_FIELDS = ("name", "phone", "contact_time")


async def pass_up(
    session: AsyncSession,
    services: Services,
    case: Case,
    now: datetime,
    officer_id: int | None = None,
    message: str = PASSED_UP,
) -> tuple[Union | None, list[Outgoing]]:
    """Escalate, announce the case to the parent union's officers and tell the worker
    (`message`, a msgid with {code} and {union}); (None, []) when already at the root."""
    parent = await escalate(session, services, case, now, officer_id)
    if parent is None:
        return None, []
    first = await cases.first_text(session, case.id)
    announced = await alerts.new_case(session, services, case, first)
    told = await tell_worker(session, services, case, message, code=case.code, union=parent.name)
    return parent, [*announced, *told]


def contact(services: Services, case: Case) -> dict[str, str] | None:
    """A named case's contact details (name, phone, time to call), opened for officers and
    in their language; never anything for an anonymous case."""
    if case.anonymous or case.contact_sealed is None:
        return None
    try:
        sealed = json.loads(services.vault.open(case.contact_sealed))
    except ValueError:
        return None
    shown = {k: str(sealed[k]) for k in CONTACT_FIELDS if sealed.get(k)}
    if "contact_time" in shown:
        # Stored as the form's choice value ("evening"); officers read its label.
        labels = {choice.value: choice.label for choice in membership.CONTACT_TIMES}
        label = labels.get(shown["contact_time"])
        shown["contact_time"] = _(label) if label else shown["contact_time"]
    return shown or None


async def tell_worker(
    session: AsyncSession, services: Services, case: Case, message: str, **values: str
) -> list[Outgoing]:
    """A message (a msgid with {placeholders}) to the worker behind a case, in their language."""
    person = await recipient(session, services, case)
    if person is None:
        return []
    with services.catalogs.activate(person.language):
        return [Outgoing(_to(person), _(message).format(**values), menu.main_menu())]


# ---------------------------------------------------------------------------- the worker


async def _own_case(ctx: Context, code: str) -> Case | None:
    return await cases.owned_by(
        ctx.session, code, ctx.person.id, status.reporter_tag(ctx, ctx.person.id)
    )


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """case:reply:<code>: the worker's next message goes to that case."""
    payload = msg.payload or ""
    code = payload.removeprefix("case:reply:")
    case = await _own_case(ctx, code) if payload.startswith("case:reply:") else None
    if case is None:
        raise StaleButton(payload)  # not theirs, or not a case at all
    ctx.end_flow()
    ctx.state.update(flow="case_reply", case=code)
    text = _("Write your answer about {code} in one message. Send /cancel to stop.")
    return [ctx.reply(text.format(code=code))]


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The worker's answer: added to the case thread for the officers."""
    code = str(ctx.state.get("case"))
    text = (msg.text or "").strip()
    if not text:
        return [ctx.reply(_("Please write your message as text. Send /cancel to stop."))]
    case = await _own_case(ctx, code)
    ctx.end_flow()
    if case is None:
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    ctx.session.add(CaseMessage(case_id=case.id, author="worker", text=text, created_at=ctx.now))
    case.updated_at = ctx.now
    if case.status == "waiting_worker":
        case.status = "assigned"
    audit.record(
        ctx.session, actor="worker", action="case.answered", case_id=case.id, now=ctx.now,
        detail={},
    )  # fmt: skip
    reply = _("Your answer was added to {code}. The officer will see it.").format(code=code)
    told = await alerts.worker_answered(ctx.session, ctx.services, case, text)
    return [ctx.reply(reply, menu.main_menu()), *told]
