"""What officers are told on their messenger: a new case in their queue, a worker's answer, a
case a colleague gave them; and how a case reads there (its heading, its thread, its buttons).

Alerts go to the routed union's officers who linked their account on the officers' channel
(the setting UNIONBOT_OFFICER_CHANNEL, Telegram by default) and to its registered officers'
groups; nobody else (an unregistered group gets nothing). They carry the case's summary and
its action buttons, never the identity of an anonymous reporter.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services, labels
from bot.services.i18n import N_, _, format_date, format_datetime
from handlers.payloads import OfficerAction, OfficerVerb
from handlers.types import (
    BILLED_OFF,
    INACTIVE,
    NOT_FOLLOWING,
    WINDOW_CLOSED,
    Address,
    Button,
    Keyboard,
    Outgoing,
)
from storage import cases, evidence, officers
from storage.models import Case, CaseMessage, Officer, Union, Ward, Workplace

PREVIEW = 600  # characters of the worker's text in an alert
# Said wherever an officer would otherwise look for the sender (contact details, replies);
# it says when, never who.
ERASED = N_(
    "The sender deleted their data on {date}; they can no longer be answered through the bot."
)
ERASED_ENTRY = N_("The sender deleted their data: nothing links this request to them any more.")


async def erased(session: AsyncSession, case: Case) -> str | None:
    """The note for a case whose sender erased their data (/xoadulieu), else None."""
    when = await cases.detached_at(session, case.id)
    return _(ERASED).format(date=format_date(when)) if when else None


# A message to the worker that their messenger will not carry now, by why (the thread's
# system entry is HELD + the reason, read in the officer's language).
HELD = "[held] "
HELD_WHY = {
    WINDOW_CLOSED: N_(
        "Not delivered yet: the worker last wrote over 7 days ago, and Zalo lets the union "
        "write only within 7 days of the worker's last message."
    ),
    BILLED_OFF: N_(
        "Not delivered yet: the worker last wrote over 48 hours ago, and paid Zalo messages "
        "are turned off for this bot."
    ),
    NOT_FOLLOWING: N_("Not delivered yet: the worker no longer follows the union's Zalo account."),
    INACTIVE: N_("Not delivered yet: Zalo says the worker's account is inactive."),
}
HELD_NEXT = N_("It is kept and goes out by itself as soon as the worker writes to the bot again.")


def held_entry(reason: str) -> str:
    return HELD + (reason if reason in HELD_WHY else WINDOW_CLOSED)


def thread_text(entry: CaseMessage) -> str:
    """A thread entry as an officer reads it: system events in the reader's language."""
    if entry.author == "system" and entry.text == cases.DETACHED:
        return _(ERASED_ENTRY)
    if entry.author == "system" and entry.text.startswith(HELD):
        why = HELD_WHY.get(entry.text.removeprefix(HELD), HELD_WHY[WINDOW_CLOSED])
        return _(why) + " " + _(HELD_NEXT)
    return entry.text


def actions(case: Case) -> Keyboard:
    """Claim, reply, note, move, resolve: one tap each."""

    def tap(label: str, verb: OfficerVerb) -> Button:
        return Button(label, OfficerAction(verb, case.id).pack())

    rows: list[tuple[Button, ...]] = [
        (tap(_("Claim"), "claim"), tap(_("Reply"), "reply")),
        (tap(_("Note"), "note"), tap(_("Move"), "move")),
        (tap(_("Resolve"), "close"), tap(_("Details"), "view")),
    ]
    if case.kind == "membership" and not (case.details or {}).get("admitted_at"):
        rows.append((tap(_("Confirm: admitted as a member"), "admit"),))
    return tuple(rows)


async def heading(session: AsyncSession, case: Case) -> str:
    """Code, kind, category, status, union, workplace, ward, who sent it, when it is due."""
    union = await session.get(Union, case.union_id)
    place = await session.get(Workplace, case.workplace_id) if case.workplace_id else None
    ward = await session.get(Ward, case.ward_id) if case.ward_id else None
    details = case.details or {}
    lines = [
        title(case),
        _("Status: {status} · {union}").format(
            status=_(labels.OFFICER_STATUSES[case.status]), union=union.name if union else "-"
        ),
    ]
    where = place.name if place else details.get("workplace_text")
    if where or ward:
        lines.append(
            _("Workplace: {place} · Ward: {ward}").format(
                place=where or "-", ward=ward.name if ward else details.get("ward_text") or "-"
            )
        )
    gone = await erased(session, case)
    if case.anonymous:
        lines.append(_("Anonymous: the reporter's identity is not shown to anyone."))
    elif not gone:
        lines.append(_("Named: contact details are in the case."))
    if gone:
        lines.append(gone)
    if case.first_response_due_at and case.first_response_at is None:
        lines.append(
            _("First answer due: {due}").format(due=format_datetime(case.first_response_due_at))
        )
    if case.resolution_due_at and case.status not in ("resolved", "closed"):
        lines.append(_("Resolve by: {due}").format(due=format_datetime(case.resolution_due_at)))
    files = await evidence.for_case(session, case.id)
    if files:
        lines.append(_("Files attached: {count}").format(count=len(files)))
    return "\n".join(lines)


def title(case: Case) -> str:
    """A case in one line: its code, kind and category (nothing of who sent it)."""
    kind = _(labels.OFFICER_KINDS[case.kind])
    return " · ".join(part for part in (case.code, kind, _category(case)) if part)


def _category(case: Case) -> str | None:
    label = labels.category(case.kind, case.category)
    return _(label) if label else None


def _clip(text: str) -> str:
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


async def recipients(session: AsyncSession, services: Services, union_id: int) -> list[Address]:
    """The union's linked officers (private chats) and its registered groups."""
    people = [
        Address(services.settings.officer_channel, str(o.telegram_user_id))
        for o in await officers.to_notify(session, union_id)
    ]
    groups = [Address(g.channel, g.chat_id) for g in await officers.groups(session, union_id)]
    return people + groups


async def new_case(
    session: AsyncSession, services: Services, case: Case, first_text: str
) -> list[Outgoing]:
    """A new (or escalated) case, announced to its union's officers."""
    addresses = await recipients(session, services, case.union_id)
    if not addresses:
        return []
    with services.catalogs.activate(services.settings.default_language):
        text = "\n".join(
            [_("New request in your queue:"), await heading(session, case), "", _clip(first_text)]
        )
        keyboard = actions(case)
    return [Outgoing(address, text, keyboard) for address in addresses]


async def handling(session: AsyncSession, services: Services, case: Case) -> list[Address]:
    """Who hears about a case's news: the officer handling it, or else (nobody has it, or
    they were deactivated) the union's officers."""
    assignee = await session.get(Officer, case.assignee_id) if case.assignee_id else None
    if assignee is not None and assignee.active:
        channel = services.settings.officer_channel
        linked = assignee.telegram_user_id
        return [Address(channel, str(assignee.telegram_user_id))] if linked else []
    return await recipients(session, services, case.union_id)


async def undelivered(
    session: AsyncSession, services: Services, case: Case, entry: str
) -> list[Outgoing]:
    """A message to the worker is held by their messenger: tell who handles the case why."""
    addresses = await handling(session, services, case)
    if not addresses:
        return []
    with services.catalogs.activate(services.settings.default_language):
        why = HELD_WHY.get(entry.removeprefix(HELD), HELD_WHY[WINDOW_CLOSED])
        body = "\n".join([case.code, _(why), _(HELD_NEXT)])
        keyboard = ((Button(_("Details"), OfficerAction("view", case.id).pack()),),)
    return [Outgoing(address, body, keyboard) for address in addresses]


async def worker_answered(
    session: AsyncSession, services: Services, case: Case, text: str
) -> list[Outgoing]:
    """The worker wrote back: tell the officer handling it, or else (nobody has it, or they
    were deactivated) the union's officers."""
    addresses = await handling(session, services, case)
    if not addresses:
        return []
    with services.catalogs.activate(services.settings.default_language):
        body = _("The worker answered on {code}:").format(code=case.code) + "\n" + _clip(text)
        keyboard = (
            (
                Button(_("Reply"), OfficerAction("reply", case.id).pack()),
                Button(_("Details"), OfficerAction("view", case.id).pack()),
            ),
        )
    return [Outgoing(address, body, keyboard) for address in addresses]


async def given(
    session: AsyncSession, services: Services, case: Case, giver: Officer, assignee: Officer
) -> list[Outgoing]:
    """A colleague gave the officer a case: tell them, unless they gave it to themselves."""
    if not assignee.telegram_user_id or assignee.id == giver.id:
        return []
    with services.catalogs.activate(services.settings.default_language):
        text = _("{name} gave you a request:").format(name=giver.name)
        text += "\n" + await heading(session, case)
        keyboard = actions(case)
    to = Address(services.settings.officer_channel, assignee.telegram_user_id)
    return [Outgoing(to, text, keyboard)]


# Said to admins when a messenger's tokens stop working (bot/channels/zalo.py).
ZALO_NEEDS_AUTHORISING = N_(
    "Zalo refused the bot's refresh token, so nothing can be sent to workers on Zalo. "
    "Messages are kept. An admin must run `unionbot zalo authorize` on the server."
)


async def to_admins(session: AsyncSession, services: Services, message: str) -> list[Outgoing]:
    """A message (a msgid) to every active admin with a linked account."""
    found = await officers.admins_to_notify(session)
    with services.catalogs.activate(services.settings.default_language):
        text = _(message)
    channel = services.settings.officer_channel
    return [Outgoing(Address(channel, str(o.telegram_user_id)), text) for o in found]
