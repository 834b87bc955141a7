"""“Report a problem”: a grievance, anonymous if the worker wants; a KN- case in the queue of
the union the router picks, due for a first response in 2 working days and resolution in 10.

Anonymous means the case holds no link to the worker that an officer can read: person_id is
empty, the reporter is sealed (so replies can be relayed later) and tagged with a keyed hash
(so the worker's own "My requests" finds it). Without consent a report is always anonymous.
The worker is warned when their own words look identifying (a phone number, their name).

When the workplace has its own grassroots union, whose chair may be one of the managers, the
worker chooses who receives the report: that union or the one above it, outside the company.
A named worker is asked. An anonymous one is not: it goes outside (they already said they
are afraid, and one question fewer on a small screen leaves no wrong tap to make), and the
review says so and how to send it to the company's union instead.
"""

from __future__ import annotations

import re

from bot.services import alerts
from bot.services.i18n import N_, _, format_datetime
from bot.services.labels import AFFECTED, SINCE, Choice
from bot.services.labels import GRIEVANCE_CATEGORIES as CATEGORIES
from bot.services.text import identifying
from handlers import attachments, forms, intake, menu, my_requests, workplace
from handlers.forms import REDO, Answers, Field, Form, Invalid
from handlers.types import Context, Outgoing

ANONYMITY = (
    Choice("anonymous", N_("Keep me anonymous")),
    Choice("named", N_("Officers may know it is me")),
)
CHECK = (
    Choice("keep", N_("Keep it as it is")),
    Choice(REDO, N_("Write it again")),
)
RECIPIENTS = (
    Choice(workplace.COMPANY, N_("Your company's union")),
    Choice(workplace.OUTSIDE, N_("The union above, outside the company")),
)
RECIPIENT_SHOWN = {
    workplace.COMPANY: N_("{union} (the union at your company)"),
    workplace.OUTSIDE: N_("{union} (the union above, outside your company)"),
}


async def parse_affected(ctx: Context, text: str, answers: Answers) -> str:
    """A number of workers typed ("6", "khoảng 20 người") as the range it falls in."""
    found = re.search(r"\d+", text)
    if found is None:
        raise Invalid(_("Tap one of the buttons, or type the number of workers, e.g. 6."))
    count = int(found.group())
    if count < 1:
        raise Invalid(_("Tap one of the buttons, or type the number of workers, e.g. 6."))
    return "me" if count == 1 else "few" if count <= 10 else "many" if count <= 50 else "most"


WHAT_SHOWS = {"phone": N_("a phone number"), "email": N_("an e-mail address"), "name": N_("a name")}


def _shows(answers: Answers) -> str:
    found = identifying(str(answers.get("story") or ""))
    return ", ".join(_(WHAT_SHOWS[kind]) for kind in found)


def _receiver(answers: Answers) -> str | None:
    """The union chosen to receive the report, by name, and which side of the company it is."""
    sides, chosen = workplace.sides(answers), answers.get(workplace.RECIPIENT)
    if sides is None or chosen not in RECIPIENT_SHOWN:
        return None
    return _(RECIPIENT_SHOWN[chosen]).format(union=sides[chosen])


FIELDS = (
    Field("category", N_("What is the problem about?"), choices=CATEGORIES, label=N_("Problem")),
    *workplace.fields(
        N_(
            "Where does it happen? Write the company, hotel, farm or shop name (or its tax "
            "code). You may skip this, but then the report goes to a wider union."
        ),
        workplace_optional=True,
    ),
    Field(
        "story",
        N_(
            "What happened? Write it in your own words: what, when, who is affected. "
            "You do not need to give your name."
        ),
        parse=forms.parse_story,
        label=N_("What happened"),
        show=forms.show_story,
    ),
    Field(
        "story_check",
        N_(
            "Your text contains {shows}, which could show who you are. Officers will read it. "
            "Keep it, or write it again without it?"
        ),
        choices=CHECK,
        ask_if=lambda answers: bool(identifying(str(answers.get("story") or ""))),
        redo="story",
        part_of="story",
    ),
    Field("since", N_("Since when has this been going on?"), choices=SINCE, label=N_("Since")),
    Field(
        "affected",
        N_("How many workers are affected? Tap one, or type the number."),
        choices=AFFECTED,
        parse=parse_affected,
        label=N_("Workers affected"),
    ),
    attachments.field(
        N_(
            "Do you have photos, voice messages or PDF files that show the problem (a payslip, "
            "a notice, the workplace)? Send them here, up to 5. Pictures are re-saved so "
            "hidden data such as location is removed. A voice or a photo of your own papers "
            "can show who you are. When done, or if you have none, tap “Done, continue”."
        )
    ),
    Field(
        "anonymity",
        N_(
            "Do you want to stay anonymous? Then officers do not see your name, account or "
            "phone; they answer you here through the bot."
        ),
        choices=ANONYMITY,
        label=N_("Anonymous"),
        show=lambda answers: _(ANONYMITY[0 if _anonymous(answers) else 1].label),
    ),
    Field(
        "phone",
        N_("If you would like a call, write your phone number. Or tap Skip."),
        parse=forms.parse_phone,
        optional=True,
        personal=True,
        ask_if=lambda answers: answers.get("anonymity") == "named",
        label=N_("Phone"),
        show=forms.show_phone,
        part_of="anonymity",
    ),
    Field(
        workplace.RECIPIENT,
        N_(
            "Who should receive your report?\n"
            "• Your company's union ({company}): inside the company; its chair is sometimes "
            "one of the managers.\n"
            "• The union above, outside the company ({outside}): outside the company; your "
            "company's union does not see your report."
        ),
        choices=RECIPIENTS,
        ask_if=lambda answers: workplace.sides(answers) is not None,
        default=lambda answers: workplace.OUTSIDE if _anonymous(answers) else None,
        label=N_("Sent to"),
        show=_receiver,
        part_of=("workplace", "anonymity"),
        values=lambda answers: workplace.sides(answers) or {},
    ),
)


async def receiver_notes(ctx: Context, answers: Answers) -> list[str]:
    """The review's line on who receives it, unless the worker's choice already shows it;
    for an anonymous report sent outside, how to send it to the company's union instead."""
    if workplace.RECIPIENT not in answers or workplace.sides(answers) is None:
        return await workplace.receiver(ctx, answers)
    if _anonymous(answers) and answers[workplace.RECIPIENT] == workplace.OUTSIDE:
        return [
            _(
                "As you are anonymous, I send it outside your company. To send it to your "
                "company's union instead, tap “Change something”, then “Sent to”."
            )
        ]
    return []


CONSENT = N_(
    "You chose to let officers know it is you. For that I keep a link to your account and, "
    "if you give it, your phone number.\n"
    "• Why: so that officers can follow up your report with you.\n"
    "• Who sees it: only the union officers handling your report; never your employer.\n"
    "• How long: while your report is handled; your phone number is stored encrypted.\n"
    "• You can see and delete your data at any time: send /xoadulieu.\n"
    "Do you agree (Personal Data Protection Law 2025)? If not, your report is sent "
    "anonymously."
)


async def finish(ctx: Context, answers: Answers) -> list[Outgoing]:
    """Open the KN- case and tell the worker its code, who answers and by when."""
    anonymous = _anonymous(answers)
    filed = await intake.file(
        ctx,
        answers,
        kind="grievance",
        category=answers.get("category"),
        anonymous=anonymous,
        details={"since": answers.get("since"), "affected": answers.get("affected")},
    )
    if filed is None:
        return [ctx.reply(_("Sorry, the union's queue is not set up yet."), menu.main_menu())]
    case = filed.case
    lines = [
        _("Your report has been received. Request code: {code}.").format(code=case.code),
        _("{union} will answer you by {first}; the aim is to resolve it by {resolution}.").format(
            union=filed.union.name,
            first=format_datetime(filed.first_due),
            resolution=format_datetime(filed.resolution_due or filed.first_due),
        ),
        _(
            "You are anonymous: officers do not see your name, account or phone. Their "
            "answers come here; you can follow it under “My requests”."
        )
        if anonymous
        else _("Officers will answer you here; you can follow it under “My requests”."),
    ]
    if line := attachments.attached_line(filed.attached):
        lines.insert(1, line)
    if anonymous:
        lines.append(my_requests.pin_notice(ctx, case))
    announced = await alerts.new_case(ctx.session, ctx.services, case, str(answers["story"]))
    return [ctx.reply("\n".join(lines), menu.main_menu()), *announced]


def _anonymous(answers: Answers) -> bool:
    """Anonymous unless the worker chose to be named and agreed to it."""
    return answers.get("anonymity") != "named" or answers.get("consent") is False


FORM = Form(
    name="grievance",
    fields=FIELDS,
    finish=finish,
    title=N_("Report a problem"),
    button="report",
    consent_text=CONSENT,
    placeholders=lambda answers: {"shows": _shows(answers)},
    notes=receiver_notes,
    prefill=workplace.prefill,
)
