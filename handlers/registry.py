"""The registry: which handler answers which command, button and flow, on one screen.

The dispatcher (bot/dispatch.py) picks a handler in this order: a button press by the
payload's namespace (BUTTONS), a /command (COMMANDS), the person's active flow (FLOWS),
else FALLBACK for free text. Everything but a form's own steps and /huy sets an open form
aside (see `aside`). Handlers never import telegram, aiohttp, bot.channels or
bot.web.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bot.services import menus
from bot.services import outreach as outreach_links
from handlers import (
    announce,
    cancel,
    case_reply,
    faq,
    forms,
    grievance,
    membership,
    menu,
    my_requests,
    officer,
    outreach,
    payloads,
    polls,
    privacy,
    question,
    subscriptions,
    support,
)
from handlers.types import (
    JOINED,
    LASTING_STATE,
    Address,
    Context,
    Handler,
    Incoming,
    Outgoing,
    StaleButton,
)

# The multi-step forms (handlers/forms.py runs them), by name.
FORMS: dict[str, forms.Form] = {
    form.name: form for form in (membership.FORM, grievance.FORM, support.FORM)
}


def aside(handler: Handler) -> Handler:
    """Anything but the form's own answers, reached mid-form, sets the form aside first; the
    replies then offer it back ("Continue" / "Drop it")."""

    async def run(ctx: Context, msg: Incoming) -> list[Outgoing]:
        just = forms.set_aside(ctx)
        return await forms.offer_back(ctx, await handler(ctx, msg), FORMS, just)

    return run


_begin = partial(forms.begin, forms=FORMS)

COMMANDS: dict[str, Handler] = {
    "start": aside(outreach.start),
    "menu": aside(menu.show),
    "help": aside(menu.help),
    "lang": aside(menu.language),
    "cancel": cancel.run,
    "huy": cancel.run,
    "hoso": aside(my_requests.show),
    "tracuu": aside(my_requests.look_up),
    "xoadulieu": aside(privacy.ask),
    "dangky": aside(subscriptions.show),
    "dung": aside(subscriptions.stop),
    # Officers (unknown commands to everyone else).
    "queue": aside(officer.queue),
    "case": aside(officer.show_case),
    "canbo": aside(officer.link),
    "thongbao": aside(announce.start),
    "duyet": aside(announce.approve),
}

# Button payloads (handlers/payloads.py) are "<namespace>:<fields>"; the namespace picks
# the handler.
BUTTONS: dict[str, Handler] = {
    payloads.Menu.namespace: aside(menu.on_button),
    payloads.Faq.namespace: aside(faq.on_button),
    # "<form.button>:start" and ":new" (forms.begin decides about a form set aside).
    **{form.button: aside(_begin) for form in FORMS.values()},
    payloads.Privacy.namespace: aside(privacy.on_button),
    payloads.CaseReply.namespace: aside(case_reply.on_button),
    payloads.Step.namespace: partial(forms.on_button, forms=FORMS),
    payloads.Language.namespace: aside(menu.on_language_button),
    payloads.Question.namespace: aside(question.on_button),
    payloads.MyRequests.namespace: aside(my_requests.on_button),
    payloads.Subscribe.namespace: aside(subscriptions.on_button),
    payloads.Vote.namespace: aside(polls.on_button),
    payloads.OfficerAction.namespace: aside(officer.on_button),
    payloads.BroadcastAction.namespace: aside(announce.on_button),
}


# Entry points anyone may press, even someone the bot holds nothing about (they could as well
# type /start): the menu, the questions, the language, "My requests", a form's start, the
# choice of news. After /xoadulieu the person is deleted, and the menu under the confirmation
# must still work.
PUBLIC = {
    payloads.Menu.namespace, payloads.Faq.namespace, payloads.Language.namespace,
    payloads.MyRequests.namespace,
}  # fmt: skip


def public_button(payload: str) -> bool:
    """A press that needs no history with the person (see PUBLIC)."""
    namespace = payloads.namespace(payload)
    if namespace in PUBLIC:
        return True
    if payload == menus.NEWS:
        return True
    return any(f.button == namespace for f in FORMS.values()) and payload.endswith(":start")


def officer_button(payload: str) -> bool:
    """An officer's one-tap action on a case, or an admin's approval of a broadcast: the only
    presses taken in a group chat (a case alert in a registered officers' group), and from
    someone the bot never wrote to (an admin asked to approve)."""
    if payloads.namespace(payload) == payloads.OfficerAction.namespace:
        return True
    try:
        return payloads.BroadcastAction.unpack(payload).verb == "approve"
    except StaleButton:
        return False


# state["flow"] -> the handler for what the person sends while that flow is active
# (text, or a photo or sticker where text was expected).
FLOWS: dict[str, Handler] = {
    "question": aside(question.on_text),
    "form": partial(forms.on_text, forms=FORMS),
    "case_reply": aside(case_reply.on_text),
    "officer_write": aside(officer.on_text),
    announce.FLOW: aside(announce.on_text),
}

# Events in the chat (Incoming.event): following the account greets as /start does. Leaving
# it is the dispatcher's own business (bot/dispatch.py): it needs no handler.
EVENTS: dict[str, Handler] = {JOINED: COMMANDS["start"]}


async def _free_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """Text outside any flow: "dừng", "stop"… alone stop the news (inside a form they are
    its cancel words); an outreach link's code alone is an arrival through it; anything else
    is a question."""
    if subscriptions.is_stop_word(msg.text):
        return await subscriptions.stop(ctx, msg)
    if (arrived := await outreach.typed(ctx, msg)) is not None:
        return arrived
    return await faq.on_text(ctx, msg)


FALLBACK: Handler = aside(_free_text)
# The dispatcher's own refusals, before any handler runs.
TOO_LONG = menu.too_long
SLOW_DOWN = menu.slow_down
STALE = menu.stale
UNSUPPORTED: Handler = aside(menu.unsupported)
UNKNOWN_COMMAND: Handler = aside(menu.unknown_command)


async def IGNORE(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """An event no handler takes: nothing to say."""
    return []


def read_number(msg: Incoming, state: dict[str, Any]) -> Incoming:
    """A typed number of a shown option (Incoming.numbered): the press of that option, unless
    the person is in the middle of typing an answer (a count, a phone, a message)."""
    if msg.numbered is None:
        return msg
    flow = state.get("flow")
    typing = forms.takes_text(state, FORMS) if flow == "form" else flow in FLOWS
    if typing:
        return replace(msg, numbered=None)
    return replace(msg, payload=msg.numbered, text=None, numbered=None)


# -- the janitor's hook (bot/retention.py): what of a conversation is past its time ------

# Where a half-filled form keeps its deadline in the state (the janitor's query).
DRAFT_DEADLINES = forms.DEADLINES
# A conversation nobody touched for this long holds no flow still needed: a form would have
# expired, a question typed for "Ask a union officer" is long answered or dropped.
STATE_LIFETIME = timedelta(days=forms.FORM_DAYS)
# What outlives a flow (LASTING_STATE) but not that long: the form set aside (expired by
# then), the wrong PINs (counted per day), and the outreach link the person came through
# (the funnel credits a link with what its workers do within that time; a web visitor who
# kept nothing else can then be forgotten). Anything else lasting stays.
SHORT_LASTING = frozenset({forms.PAUSED, "pin_failures", outreach_links.STATE})


@dataclass(frozen=True, slots=True)
class Expired:
    """A conversation's state with what was past its time taken out: the files to delete
    with it, and what to tell the person."""

    state: dict[str, Any]
    files: list[int]
    replies: list[Outgoing]


def expire_draft(
    state: Mapping[str, Any], now: datetime, to: Address, *, untouched: bool = False
) -> Expired | None:
    """A form past its expiry (open or set aside) taken out of `state`, with its files and
    the notice the worker would get on writing again (in the active language). When the
    state was `untouched` for STATE_LIFETIME, every flow and SHORT_LASTING key goes too
    (and what is left is looked at again a STATE_LIFETIME later). None when nothing is past
    its time."""
    found = forms.without_expired(state, now)
    if found is None and not untouched:
        return None
    kept, files, notice = found if found is not None else (dict(state), [], None)
    if untouched:
        kept = {k: v for k, v in kept.items() if k in LASTING_STATE and k not in SHORT_LASTING}
        files = forms.files(state)
    replies = [Outgoing(to, notice, menu.main_menu())] if notice else []
    return Expired(kept, files, replies)
