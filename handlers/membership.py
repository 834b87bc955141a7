"""“Join the union”: register interest in membership; a GN- case in the right union's queue.

Name and phone are personal: asked after consent, sealed in the case (only officers open
them) and never written to the case thread. The workplace is matched against the directory
(the worker chooses when two fit equally), the ward is asked only when the workplace is not
known, and the answer about the labour contract says which way into the union applies.
"""

from __future__ import annotations

import json
import re

from bot.services import alerts, calendar, outreach
from bot.services.i18n import N_, _, format_datetime
from bot.services.labels import CONTACT_TIMES, CONTRACTS
from handlers import forms, menu, subscriptions, workplace
from handlers.forms import Answers, Field, Form, Invalid
from handlers.types import Context, Outgoing
from storage import cases

ROUTES = {
    "contract": N_(
        "With a labour contract you join the grassroots union where you work; where there is "
        "none yet, the union above it guides you and can help set one up."
    ),
    "no_contract": N_(
        "The 2024 Trade Union Law lets workers without a labour contract join too, through a "
        "grassroots professional union (nghiệp đoàn cơ sở) or the ward union."
    ),
    "foreign_long": N_(
        "Foreign workers with a contract of 12 months or more may join the grassroots union "
        "of their workplace (Trade Union Law 2024, Art. 5)."
    ),
    "foreign_short": N_(
        "The law lets foreign workers join when their contract is 12 months or more. The "
        "officer will explain what the union can still do for you."
    ),
}


async def parse_name(ctx: Context, text: str, answers: Answers) -> str:
    name = " ".join(text.split())
    if not 2 <= len(name) <= 60 or not re.search(r"[^\W\d_]", name) or re.search(r"\d", name):
        raise Invalid(_("Please write your name in letters (2 to 60 characters)."))
    return name


FORM_FIELDS = (
    Field(
        "name",
        N_("What is your full name?"),
        parse=parse_name,
        personal=True,
        label=N_("Name"),
    ),
    Field(
        "phone",
        N_("Which phone number can the union call you on?"),
        parse=forms.parse_phone,
        personal=True,
        label=N_("Phone"),
        show=forms.show_phone,
    ),
    *workplace.fields(
        N_("Where do you work? Write the company, hotel, farm or shop name (or its tax code).")
    ),
    Field(
        "contract",
        N_("Do you have a labour contract?"),
        choices=CONTRACTS,
        label=N_("Labour contract"),
    ),
    Field(
        "contact_time",
        N_("When is it best for the union to call you?"),
        choices=CONTACT_TIMES,
        optional=True,
        label=N_("Best time to call"),
    ),
)

CONSENT = N_(
    "To register you I need your name, phone number and workplace.\n"
    "• Why: so that a union officer can call you and guide you to join.\n"
    "• Who sees them: only the union officers handling your request; never your employer.\n"
    "• How long: while your request is handled; your phone number is stored encrypted.\n"
    "• You can see and delete your data at any time: send /xoadulieu.\n"
    "Do you agree (Personal Data Protection Law 2025)? If not, you can still read the "
    "answers and send an anonymous report."
)


async def finish(ctx: Context, answers: Answers) -> list[Outgoing]:
    """Open the GN- case in the routed union and tell the worker who calls them by when."""
    if not answers.get("consent", ctx.person.consent_at is not None) or not answers.get("phone"):
        text = _(
            "Without your agreement I cannot keep your name and phone number, so I have not "
            "registered you. You can still read the answers or send an anonymous report."
        )
        return [ctx.reply(text, menu.main_menu())]
    routed = await workplace.destination(ctx, answers)
    if routed is None:
        return [ctx.reply(_("Sorry, the union's queue is not set up yet."), menu.main_menu())]
    decision, union = routed
    first_due, _resolution = calendar.due_times(
        "membership", ctx.now, ctx.services.settings.due_days, ctx.services.holidays
    )
    contact = {k: answers.get(k) for k in ("name", "phone", "contact_time")}
    summary = _summary(answers, decision.workplace, decision.ward)
    ctx.person.phone_encrypted = ctx.services.vault.seal(answers["phone"])
    case = await cases.open(
        ctx.session,
        kind="membership",
        category=answers.get("contract"),
        union_id=union.id,
        person_id=ctx.person.id,
        text=summary,
        now=ctx.now,
        due_at=first_due,
        first_response_due_at=first_due,
        details=_details(answers),
        **await workplace.case_columns(ctx, decision),
        outreach_link_id=outreach.link_of(ctx.state),
        contact_sealed=ctx.services.vault.seal(json.dumps(contact, ensure_ascii=False)),
    )
    text = _(
        "Thank you! Your registration is recorded. Request code: {code}.\n"
        "An officer of {union} will call you by {due}.\n{route}"
    ).format(
        code=case.code,
        union=union.name,
        due=format_datetime(first_due),
        route=_(ROUTES.get(str(answers.get("contract")), ROUTES["contract"])),
    )
    announced = await alerts.new_case(ctx.session, ctx.services, case, summary)
    # "Union news" first under the receipt, for someone who does not receive it yet.
    return [ctx.reply(text, await subscriptions.offered(ctx)), *announced]


def _details(answers: Answers) -> dict[str, object]:
    """What the case keeps of the answers beside the sealed contact."""
    return {
        "workplace_text": workplace.typed(answers, "workplace"),
        "ward_text": workplace.typed(answers, "ward"),
        "contract": answers.get("contract"),
        "contact_time": answers.get("contact_time"),
    }


def _summary(answers: Answers, place: str | None, ward: str | None) -> str:
    """The case thread's first entry: what the worker answered, without name or phone."""
    labels = {c.value: c.label for c in (*CONTRACTS, *CONTACT_TIMES)}
    contract = labels.get(str(answers.get("contract")))
    call_at = labels.get(str(answers.get("contact_time")))
    lines = [
        _("Membership interest."),
        _("Workplace: {text}").format(text=place or workplace.typed(answers, "workplace") or "-"),
        _("Ward: {text}").format(text=ward or workplace.typed(answers, "ward") or "-"),
        _("Labour contract: {text}").format(text=_(contract) if contract else "-"),
        _("Best time to call: {text}").format(text=_(call_at) if call_at else "-"),
    ]
    return "\n".join(lines)


FORM = Form(
    name="membership",
    fields=FORM_FIELDS,
    finish=finish,
    title=N_("Join the union"),
    button="join",
    consent_text=CONSENT,
    needs_consent=True,
    notes=workplace.receiver,
    prefill=workplace.prefill,
)
