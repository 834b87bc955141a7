"""What officers do to a case, the same from Telegram, the dashboard and the SLA watch: answer
the worker, add an internal note, change the status, assign, escalate or pass it up, confirm a
membership admission, open the contact details; and the worker's answer back.

Each operation records the case thread and the audit log and returns the messages it
produces (to the worker, to officers) for the caller to commit with the rest in one unit of
work (bot/outbox.py). Messages are copied, never forwarded (a forward shows its sender). For
an anonymous case the worker is found only through the sealed reporter, inside this module;
nothing returned to the officer side names them.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services, alerts, labels, menus
from bot.services.i18n import N_, _
from handlers.payloads import CaseReply
from handlers.types import Address, Button, Outgoing
from storage import audit, cases
from storage.localtime import LOCAL_TIME
from storage.models import CASE_STATUSES, Case, CaseMessage, Person, Union


class NotAllowed(ValueError):
    """The operation does not apply to this case (e.g. admitting a grievance)."""


class AlreadyAdmitted(ValueError):
    """The admission of this membership request is confirmed already: nothing changes."""


# What both front ends answer to a second confirmation (a msgid with {code}).
ALREADY_ADMITTED = N_("{code}: the admission is already confirmed.")


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


async def reply(
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
        answer = Button(_("Answer"), CaseReply("reply", case.code).pack())
        buttons = ((answer,), (menus.back_to_menu(),))
        return [Outgoing(_to(person), body, buttons, case.id)]


async def set_status(
    session: AsyncSession,
    services: Services,
    case: Case,
    new_status: str,
    now: datetime,
    officer_id: int | None = None,
) -> list[Outgoing]:
    """Move a case to another status and tell the worker. An officer who moves a case
    nobody holds (other than back to new) takes it, from Telegram as from the dashboard."""
    if new_status not in CASE_STATUSES:
        raise ValueError(f"unknown case status {new_status!r}")
    old, case.status, case.updated_at = case.status, new_status, now
    if case.assignee_id is None and officer_id is not None and new_status != "new":
        case.assignee_id = officer_id
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
            code=case.code, status=_(labels.WORKER_STATUSES[new_status])
        )
        return [Outgoing(_to(person), body, menus.main_menu(), case.id)]


def note(session: AsyncSession, case: Case, text: str, now: datetime, officer_id: int) -> None:
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
    return await set_status(session, services, case, "assigned", now, officer_id)


async def escalate(
    session: AsyncSession,
    services: Services,
    case: Case,
    now: datetime,
    officer_id: int | None = None,
) -> Union | None:
    """Move the case to the parent union's queue (the union it came from keeps read access to
    a membership request only: bot/services/access.py);
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
        label = labels.detail("contact_time", shown["contact_time"])
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
        text = _(message).format(**values)
        return [Outgoing(_to(person), text, menus.main_menu(), case.id)]


async def admit(
    session: AsyncSession, services: Services, case: Case, now: datetime, officer_id: int
) -> list[Outgoing]:
    """Confirm that the worker behind a membership request was admitted: the day is kept
    for the membership statistics, the case is resolved (and taken, if nobody held it) and
    the worker told. NotAllowed on any other kind; AlreadyAdmitted the second time."""
    if case.kind != "membership":
        raise NotAllowed("only a membership request can be confirmed")
    if (case.details or {}).get("admitted_at"):
        raise AlreadyAdmitted(case.code)
    # A new dict: the JSON column notices a replaced value, not an edited one.
    admitted = now.astimezone(LOCAL_TIME).date().isoformat()
    case.details = {**(case.details or {}), "admitted_at": admitted}
    audit.record(
        session, actor="officer", officer_id=officer_id, action="member.admitted",
        case_id=case.id, now=now,
    )  # fmt: skip
    return await set_status(session, services, case, "resolved", now, officer_id)


async def worker_answer(
    session: AsyncSession, services: Services, case: Case, text: str, now: datetime
) -> list[Outgoing]:
    """The worker wrote back on their case: into the thread, and the officers are told."""
    session.add(CaseMessage(case_id=case.id, author="worker", text=text, created_at=now))
    case.updated_at = now
    if case.status == "waiting_worker":
        case.status = "assigned"
    audit.record(
        session, actor="worker", action="case.answered", case_id=case.id, now=now, detail={},
    )  # fmt: skip
    return await alerts.worker_answered(session, services, case, text)


async def undelivered(
    session: AsyncSession, services: Services, case_id: int, reason: str, now: datetime
) -> list[Outgoing]:
    """A message to the worker on this case is held by their messenger (`reason`, one of
    handlers.types.HELD_REASONS) until they write again: the thread says so, and the officer
    handling it (else the union's officers) is told why."""
    case = await session.get(Case, case_id)
    if case is None:
        return []
    entry = alerts.held_entry(reason)
    session.add(CaseMessage(case_id=case.id, author="system", text=entry, created_at=now))
    return await alerts.undelivered(session, services, case, entry)
