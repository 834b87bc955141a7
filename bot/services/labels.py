"""Every label shown for a stored value: case kinds and statuses (as the worker reads them and
as officers do), each kind's categories, and the choices the forms store in a case's details.

The forms offer these choices as buttons; the dashboard, the officers' alerts, the
statistics and "My requests" show the stored value through the same table, so a label is
written once. Labels are msgids, translated where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.i18n import N_


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer a form offers as a button: the value stored and its label (a msgid)."""

    value: str
    label: str


def table(choices: tuple[Choice, ...]) -> dict[str, str]:
    """value -> label."""
    return {choice.value: choice.label for choice in choices}


# ---------------------------------------------------------------------------- kinds, statuses

# The values themselves are storage's (storage.models.CASE_KINDS, CASE_STATUSES).
# As the worker reads them ("My requests", status notices).
WORKER_KINDS = {
    "question": N_("Question"),
    "membership": N_("Joining"),
    "grievance": N_("Report"),
    "support": N_("Support"),
}
WORKER_STATUSES = {
    "new": N_("received"),
    "assigned": N_("being handled"),
    "waiting_worker": N_("waiting for your answer"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}
# As officers read them (alerts, /queue, the dashboard, statistics).
OFFICER_KINDS = {
    "question": N_("Question"),
    "membership": N_("Membership interest"),
    "grievance": N_("Grievance"),
    "support": N_("Hardship support"),
}
OFFICER_STATUSES = {
    "new": N_("new"),
    "assigned": N_("being handled"),
    "waiting_worker": N_("waiting for the worker"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}

# ---------------------------------------------------------------------------- categories

# A grievance's category (handlers/grievance.py asks it).
GRIEVANCE_CATEGORIES = (
    Choice("wages", N_("Unpaid or late wages")),
    Choice("overtime", N_("Overtime")),
    Choice("insurance", N_("Social insurance not paid")),
    Choice("safety", N_("Unsafe conditions")),
    Choice("harassment", N_("Harassment or discrimination")),
    Choice("dismissal", N_("Dismissal")),
    Choice("contract", N_("Labour contract")),
    Choice("other", N_("Something else")),
)
# A hardship request's category: the worker's situation (handlers/support.py).
SUPPORT_SITUATIONS = (
    Choice("illness", N_("Illness")),
    Choice("work_accident", N_("Work accident")),
    Choice("occupational_disease", N_("Occupational disease")),
    Choice("disaster", N_("Natural disaster")),
    Choice("job_loss", N_("Job loss")),
    Choice("other", N_("Something else")),
)
# A membership case's category is the worker's answer about their contract
# (handlers/membership.py); the form words it as an answer, officers read it as a label.
CONTRACTS = (
    Choice("contract", N_("Yes, I have a labour contract")),
    Choice("no_contract", N_("No written contract / freelance")),
    Choice("foreign_long", N_("Foreign worker, contract of 12 months or more")),
    Choice("foreign_short", N_("Foreign worker, contract under 12 months")),
)
CONTRACT_LABELS = {
    "contract": N_("with a labour contract"),
    "no_contract": N_("without a written contract"),
    "foreign_long": N_("foreign worker, 12 months or more"),
    "foreign_short": N_("foreign worker, under 12 months"),
}
# A question's category: the menu item the worker left the message from (handlers/question.py
# TOPICS), "faq" when the bot could not answer what they typed.
QUESTION_TOPICS = (
    Choice("faq", N_("the bot could not answer")),
    Choice("join", N_("about joining")),
    Choice("report", N_("about a problem at work")),
    Choice("support", N_("about hardship support")),
    Choice("other", N_("about something else")),
)
# Per kind (the queue, the case page and the alerts show no category for a question; the
# statistics do, through QUESTION_TOPICS).
CATEGORIES: dict[str, dict[str, str]] = {
    "grievance": table(GRIEVANCE_CATEGORIES),
    "support": table(SUPPORT_SITUATIONS),
    "membership": CONTRACT_LABELS,
}
# The queue's category filter: the categories officers triage by.
FILTER_CATEGORIES = {**table(GRIEVANCE_CATEGORIES), **table(SUPPORT_SITUATIONS)}


def category(kind: str, value: str | None) -> str | None:
    """The label (a msgid) of a case's category, read as its kind means it; None if unknown."""
    if value is None:
        return None
    return CATEGORIES.get(kind, {}).get(value)


# ---------------------------------------------------------------------------- details

SINCE = (
    Choice("week", N_("This week")),
    Choice("month", N_("This month")),
    Choice("months", N_("1 to 6 months")),
    Choice("long", N_("Longer than 6 months")),
)
AFFECTED = (
    Choice("me", N_("Only me")),
    Choice("few", N_("2 to 10 people")),
    Choice("many", N_("11 to 50 people")),
    Choice("most", N_("More than 50 people")),
)
URGENCY = (
    Choice("now", N_("Very urgent (this week)")),
    Choice("month", N_("Within a month")),
    Choice("later", N_("Not urgent")),
)
MEMBERSHIP = (
    Choice("member", N_("Yes, I am a union member")),
    Choice("not_member", N_("No")),
    Choice("unsure", N_("I am not sure")),
)
CONTACT_TIMES = (
    Choice("morning", N_("Morning")),
    Choice("afternoon", N_("Afternoon")),
    Choice("evening", N_("Evening")),
    Choice("any", N_("Any time")),
)
# The answers kept in a case's details that identify nobody, in the order officers read them.
DETAIL_NAMES = {
    "since": N_("Going on since"),
    "affected": N_("Workers affected"),
    "urgency": N_("Urgency"),
    "member": N_("Union member"),
    "contract": N_("Labour contract"),
    "contact_time": N_("Best time to call"),
}
# Per field: the same value means different things in different forms ("month").
DETAILS = {
    "since": table(SINCE),
    "affected": table(AFFECTED),
    "urgency": table(URGENCY),
    "member": table(MEMBERSHIP),
    "contract": table(CONTRACTS),
    "contact_time": table(CONTACT_TIMES),
}


def detail(field: str, value: str) -> str | None:
    """The label (a msgid) of a stored form answer; None when it has none (typed text)."""
    return DETAILS.get(field, {}).get(value)
