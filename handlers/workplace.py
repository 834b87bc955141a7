"""Where the worker works, as the intake forms ask it, and the route it gives.

The workplace is matched against the directory (the worker chooses when two fit equally);
the ward is asked only when the workplace is not known, by its new or an old name. The
fields are shared by the membership, grievance and support forms.

A workplace with its own grassroots union (rule 1) has a union inside the company, whose
chair may be one of its managers, and one above it outside the company. A form may let the
worker choose between them (the RECIPIENT answer, COMPANY or OUTSIDE); without that answer
rule 1 sends it to the company's union.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outreach, router
from bot.services.i18n import N_, _
from bot.services.labels import Choice
from bot.services.router import Route, Router
from bot.services.text import whole_number
from handlers.forms import REDO, Answers, Field
from handlers.types import Context
from storage import unions
from storage.models import Union

NONE_OF_THESE = "none"
RECIPIENT, COMPANY, OUTSIDE = "recipient", "company", "outside"
CHECK = (Choice("yes", N_("Yes, that is it")), Choice("no", N_("No, it is another place")))
# The workplace of the worker's outreach link was not typed: "no" asks where they work.
CHECK_PREFILLED = (CHECK[0], Choice(REDO, CHECK[1].label))


def _check(answers: Answers) -> tuple[Choice, ...]:
    prefilled = (answers.get("workplace") or {}).get("prefilled")
    return CHECK_PREFILLED if prefilled else CHECK


async def parse_workplace(ctx: Context, text: str, answers: Answers) -> dict[str, object]:
    found = await router.for_session(ctx.session)
    matches = found.match_workplace(text) if found else ()
    return {
        "text": " ".join(text.split()),
        "matches": list(matches),
        # Kept with the answer, so later steps (which cannot read the database) know whom
        # the worker may choose between.
        "unions": await _sides_of(ctx.session, found, matches) if found else {},
    }


async def _sides_of(
    session: AsyncSession, found: Router, matches: Sequence[str]
) -> dict[str, dict[str, str]]:
    """For each matched workplace with its own union: that union's name and the name of the
    union above it, outside the company."""
    sides = {}
    for name in matches:
        decision = found.for_workplace(name)
        company = await unions.by_code(session, decision.union) if decision.rule == 1 else None
        above = await outside(session, company) if company else None
        if company and above and above.id != company.id:
            sides[name] = {"company": company.name, "outside": above.name}
    return sides


async def outside(session: AsyncSession, union: Union) -> Union | None:
    """The union above a company's own union and outside the company: the nearest one above
    it that is not a grassroots union (the ward or inter-ward union), else the root."""
    seen, above = {union.id}, union
    while above.parent_id is not None and above.parent_id not in seen:
        parent = await session.get(Union, above.parent_id)
        if parent is None:
            break
        if parent.level != "grassroots":
            return parent
        seen.add(parent.id)
        above = parent
    return await unions.root(session)


def sides(answers: Answers) -> dict[str, str] | None:
    """The names of the two unions the worker may send it to ("company", "outside") when the
    workplace they settled on has its own union; None otherwise."""
    name = chosen(answers, "workplace")
    found = ((answers.get("workplace") or {}).get("unions") or {}).get(name) if name else None
    return dict(found) if isinstance(found, dict) else None


async def parse_ward(ctx: Context, text: str, answers: Answers) -> dict[str, object]:
    found = await router.for_session(ctx.session)
    matches = found.match_ward(text) if found else ()
    return {"text": " ".join(text.split()), "matches": list(matches)}


def _candidates(key: str) -> Callable[[Answers], tuple[Choice, ...]]:
    def choices(answers: Answers) -> tuple[Choice, ...]:
        matches = (answers.get(key) or {}).get("matches") or []
        options = [Choice(str(i), name) for i, name in enumerate(matches)]
        return (*options, Choice(NONE_OF_THESE, N_("None of these")))

    return choices


def chosen(answers: Answers, key: str) -> str | None:
    """The directory name the worker's answer settled on, if any: the one match they
    confirmed, or the one they picked among several."""
    matches = (answers.get(key) or {}).get("matches") or []
    if len(matches) == 1:
        # The workplace is echoed and confirmed; a ward's one match is taken as it is.
        confirmed = key != "workplace" or answers.get("workplace_check") == "yes"
        return str(matches[0]) if confirmed else None
    choice = answers.get(f"{key}_choice")
    picked = whole_number(choice)
    if picked is not None and picked < len(matches):
        return str(matches[picked])
    return None


def shown(answers: Answers, key: str) -> str | None:
    """What the review shows for the workplace or ward: the directory's name, or what the
    worker wrote (which the directory does not know)."""
    written = typed(answers, key)
    if found := chosen(answers, key):
        return found
    return _("{text} (not in our list)").format(text=written) if written else None


def typed(answers: Answers, key: str) -> str | None:
    """What the worker wrote for `key`, as written."""
    return (answers.get(key) or {}).get("text")


def _matched(key: str, count: Callable[[int], bool]) -> Callable[[Answers], bool]:
    return lambda answers: count(len((answers.get(key) or {}).get("matches") or []))


def _first_match(key: str) -> Callable[[Answers], dict[str, str]]:
    return lambda answers: {"match": ((answers.get(key) or {}).get("matches") or [""])[0]}


def fields(workplace_prompt: str, *, workplace_optional: bool = False) -> tuple[Field, ...]:
    """Workplace, then the one match confirmed or a choice among several; the ward when the
    workplace is unknown, and its choice when ambiguous."""
    return (
        Field(
            "workplace",
            workplace_prompt,
            parse=parse_workplace,
            optional=workplace_optional,
            label=N_("Workplace"),
            show=lambda answers: shown(answers, "workplace"),
        ),
        Field(
            "workplace_check",
            N_("I understand: {match}. Is that right?"),
            choices=_check,
            redo="workplace",
            ask_if=_matched("workplace", lambda n: n == 1),
            part_of="workplace",
            values=_first_match("workplace"),
        ),
        Field(
            "workplace_choice",
            N_("Several workplaces have that name. Which one is yours?"),
            choices=_candidates("workplace"),
            ask_if=_matched("workplace", lambda n: n > 1),
            part_of="workplace",
        ),
        Field(
            "ward",
            N_("Which ward (phường, xã) is your workplace in? Old names are fine, like Phường 8."),
            parse=parse_ward,
            optional=True,
            ask_if=lambda answers: chosen(answers, "workplace") is None,
            label=N_("Ward"),
            show=lambda answers: shown(answers, "ward"),
            part_of="workplace",
        ),
        Field(
            "ward_choice",
            N_("Which of these wards do you mean?"),
            choices=_candidates("ward"),
            ask_if=_matched("ward", lambda n: n > 1),
            part_of="ward",
        ),
    )


async def prefill(ctx: Context) -> Answers:
    """The workplace or ward of the outreach link the worker came through, as if typed: a
    workplace is still confirmed ("I understand: …. Is that right?"), and either can be
    changed at the review."""
    came = outreach.prefilled(ctx.state)
    answers: Answers = {}
    if came is not None and came.workplace:
        parsed = await parse_workplace(ctx, came.workplace, answers)
        answers["workplace"] = {**parsed, "prefilled": True}
    if came is not None and came.ward:
        answers["ward"] = await parse_ward(ctx, came.ward, answers)
    return answers


async def receiver(ctx: Context, answers: Answers) -> list[str]:
    """The review's line naming the union that will receive what the worker sends."""
    routed = await destination(ctx, answers)
    if routed is None:
        return []
    return [_("It goes to: {union}.").format(union=routed[1].name)]


async def route(ctx: Context, answers: Answers) -> Route | None:
    """The router's decision for the answers (None when no directory was imported)."""
    routes = await router.for_session(ctx.session)
    if routes is None:
        return None
    workplace, ward = chosen(answers, "workplace"), chosen(answers, "ward")
    if workplace:
        return routes.for_workplace(workplace)
    if ward:
        return routes.for_ward(ward)
    return routes.route(None, None)


async def destination(ctx: Context, answers: Answers) -> tuple[Route, Union] | None:
    """The routing decision and the union it names (None when no directory is imported):
    under rule 1, the union outside the company when the worker chose it."""
    decision = await route(ctx, answers)
    root = await unions.root(ctx.session)
    if decision is None or root is None:
        return None
    union = await unions.by_code(ctx.session, decision.union) or root
    if decision.rule == 1 and answers.get(RECIPIENT) == OUTSIDE:
        union = await outside(ctx.session, union) or root
        decision = replace(decision, union=union.code)
    return decision, union


async def case_columns(ctx: Context, decision: Route) -> dict[str, Any]:
    """The Case columns that record a routing decision."""
    place = await unions.workplace_named(ctx.session, decision.workplace or "")
    area = await unions.ward_named(ctx.session, decision.ward or "")
    return {
        "route_rule": decision.rule,
        "workplace_id": place.id if place else None,
        "ward_id": area.id if area else None,
    }
