"""Where the worker works, as the intake forms ask it, and the route it gives.

The workplace is matched against the directory (the worker chooses when two fit equally);
the ward is asked only when the workplace is not known, by its new or an old name. The
fields are shared by the membership, grievance and support forms.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.services import router
from bot.services.i18n import N_
from bot.services.router import Route
from handlers.forms import Answers, Choice, Field
from handlers.types import Context
from storage import unions
from storage.models import Union

NONE_OF_THESE = "none"


async def parse_workplace(ctx: Context, text: str, answers: Answers) -> dict[str, object]:
    found = await router.for_session(ctx.session)
    matches = found.match_workplace(text) if found else ()
    return {"text": " ".join(text.split()), "matches": list(matches)}


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
    """The directory name the worker's answer settled on, if any."""
    matches = (answers.get(key) or {}).get("matches") or []
    if len(matches) == 1:
        return matches[0]
    choice = answers.get(f"{key}_choice")
    if choice and choice != NONE_OF_THESE and choice.isdigit() and int(choice) < len(matches):
        return matches[int(choice)]
    return None


def typed(answers: Answers, key: str) -> str | None:
    """What the worker wrote for `key`, as written."""
    return (answers.get(key) or {}).get("text")


def _ambiguous(key: str) -> Callable[[Answers], bool]:
    return lambda answers: len((answers.get(key) or {}).get("matches") or []) > 1


def fields(workplace_prompt: str, *, workplace_optional: bool = False) -> tuple[Field, ...]:
    """Workplace, its choice when ambiguous, ward when unknown, its choice when ambiguous."""
    return (
        Field("workplace", workplace_prompt, parse=parse_workplace, optional=workplace_optional),
        Field(
            "workplace_choice",
            N_("Several workplaces have that name. Which one is yours?"),
            choices=_candidates("workplace"),
            ask_if=_ambiguous("workplace"),
        ),
        Field(
            "ward",
            N_("Which ward (phường, xã) is your workplace in? Old names are fine, like Phường 8."),
            parse=parse_ward,
            optional=True,
            ask_if=lambda answers: chosen(answers, "workplace") is None,
        ),
        Field(
            "ward_choice",
            N_("Which of these wards do you mean?"),
            choices=_candidates("ward"),
            ask_if=_ambiguous("ward"),
        ),
    )


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
    """The routing decision and the union it names (None when no directory is imported)."""
    decision = await route(ctx, answers)
    root = await unions.root(ctx.session)
    if decision is None or root is None:
        return None
    return decision, await unions.by_code(ctx.session, decision.union) or root


async def case_columns(ctx: Context, decision: Route) -> dict[str, object]:
    """The Case columns that record a routing decision."""
    place = await unions.workplace_named(ctx.session, decision.workplace or "")
    area = await unions.ward_named(ctx.session, decision.ward or "")
    return {
        "route_rule": decision.rule,
        "workplace_id": place.id if place else None,
        "ward_id": area.id if area else None,
    }
