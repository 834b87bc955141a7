"""“Hardship support”: a request for the union's care in illness, accident, disaster or job
loss; an HT- case in the queue of the union the router picks, due for a first response in 2
working days. No amount is promised: what the union can give is for the officers to say.

With consent the case is linked to the worker (and their phone, sealed, if they give it);
without it, the request is sent like an anonymous report and answered through the bot.
"""

from __future__ import annotations

from bot.services import alerts
from bot.services.i18n import N_, _, format_datetime
from bot.services.labels import MEMBERSHIP, URGENCY
from bot.services.labels import SUPPORT_SITUATIONS as SITUATIONS
from handlers import attachments, forms, intake, menu, my_requests, workplace
from handlers.forms import Answers, Field, Form
from handlers.types import Context, Outgoing

# Said after the worker has told what happened, before the next question: one line that
# shows they were heard.
SYMPATHY = {
    "illness": N_("I am sorry to hear about the illness. I hope everyone gets well soon."),
    "work_accident": N_("I am sorry about the accident. I hope you recover well."),
    "occupational_disease": N_("I am sorry that your work has made you ill."),
    "disaster": N_("I am sorry about the damage. I hope you and your family are safe."),
    "job_loss": N_("I am sorry you lost your job. I hope you find new work soon."),
    "other": N_("Thank you for telling me. I am sorry you are going through this."),
}

FIELDS = (
    Field("situation", N_("What has happened?"), choices=SITUATIONS, label=N_("Situation")),
    Field("urgency", N_("How urgent is it?"), choices=URGENCY, label=N_("Urgency")),
    Field(
        "story",
        N_("Tell briefly what happened and what help you need."),
        parse=forms.parse_story,
        label=N_("What happened"),
        show=forms.show_story,
        ack=lambda answers: _(SYMPATHY.get(str(answers.get("situation")), SYMPATHY["other"])),
    ),
    attachments.field(
        N_(
            "Do you have papers that show your situation (a hospital paper, a photo of the "
            "damage)? Send photos or PDF files here, up to 5. When done, or if you have none, "
            "tap “Done, continue”."
        )
    ),
    Field("member", N_("Are you a union member?"), choices=MEMBERSHIP, label=N_("Union member")),
    *workplace.fields(
        N_("Where do you work? Write the company, hotel, farm or shop name (or its tax code)."),
        workplace_optional=True,
    ),
    Field(
        "phone",
        N_("Which phone number can the union call you on? Or tap Skip."),
        parse=forms.parse_phone,
        optional=True,
        personal=True,
        label=N_("Phone"),
        show=forms.show_phone,
    ),
)

CONSENT = N_(
    "To follow up your request, the union needs to know it is you, and may call you if you "
    "give a phone number.\n"
    "• Why: so that officers can see what support fits your situation.\n"
    "• Who sees it: only the union officers handling your request; never your employer.\n"
    "• How long: while your request is handled; your phone number is stored encrypted.\n"
    "• You can see and delete your data at any time: send /xoadulieu.\n"
    "Do you agree (Personal Data Protection Law 2025)? If not, your request is sent without "
    "your name and officers answer you here."
)


async def finish(ctx: Context, answers: Answers) -> list[Outgoing]:
    """Open the HT- case and tell the worker its code, who answers and by when."""
    anonymous = _anonymous(ctx, answers)
    filed = await intake.file(
        ctx,
        answers,
        kind="support",
        category=answers.get("situation"),
        anonymous=anonymous,
        details={"urgency": answers.get("urgency"), "member": answers.get("member")},
    )
    if filed is None:
        return [ctx.reply(_("Sorry, the union's queue is not set up yet."), menu.main_menu())]
    case = filed.case
    text = _(
        "Your request has been received. Request code: {code}.\n"
        "An officer of {union} will answer you by {due}. What the union can offer depends on "
        "its rules and funds; the officer will explain."
    ).format(code=case.code, union=filed.union.name, due=format_datetime(filed.first_due))
    if line := attachments.attached_line(filed.attached):
        text += "\n" + line
    if anonymous:
        text += "\n" + my_requests.pin_notice(ctx, case)
    announced = await alerts.new_case(ctx.session, ctx.services, case, str(answers["story"]))
    return [ctx.reply(text, menu.main_menu()), *announced]


def _anonymous(ctx: Context, answers: Answers) -> bool:
    """Sent without the worker's name unless they agreed to be known."""
    return answers.get("consent") is False or (
        "consent" not in answers and ctx.person.consent_at is None
    )


async def notes(ctx: Context, answers: Answers) -> list[str]:
    """The review's last lines: who receives the request, and whether it carries the name."""
    named = _("Officers will know this request is yours and answer you here.")
    nameless = _("It is sent without your name; officers answer you here.")
    return [
        *await workplace.receiver(ctx, answers),
        nameless if _anonymous(ctx, answers) else named,
    ]


FORM = Form(
    name="support",
    fields=FIELDS,
    finish=finish,
    title=N_("Hardship support"),
    button="support",
    consent_text=CONSENT,
    notes=notes,
    prefill=workplace.prefill,
)
