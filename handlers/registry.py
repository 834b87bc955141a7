"""The registry: which handler answers which command, button and flow, on one screen.

The dispatcher (bot/dispatch.py) picks a handler in this order: a button press by the
payload's namespace (BUTTONS), a /command (COMMANDS), the person's active flow (FLOWS),
else FALLBACK for free text. Everything but a form's own steps and /huy sets an open form
aside (see `aside`). Handlers never import telegram, aiohttp, bot.channels or
bot.web.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from handlers import (
    cancel,
    case_reply,
    faq,
    forms,
    grievance,
    membership,
    menu,
    my_requests,
    officer,
    payloads,
    privacy,
    question,
    support,
)
from handlers.types import Context, Handler, Incoming, Outgoing

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
    "start": aside(menu.start),
    "menu": aside(menu.show),
    "help": aside(menu.help),
    "lang": aside(menu.language),
    "cancel": cancel.run,
    "huy": cancel.run,
    "hoso": aside(my_requests.show),
    "tracuu": aside(my_requests.look_up),
    "xoadulieu": aside(privacy.ask),
    # Officers (unknown commands to everyone else).
    "queue": aside(officer.queue),
    "case": aside(officer.show_case),
    "canbo": aside(officer.link),
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
    payloads.OfficerAction.namespace: aside(officer.on_button),
}


# Entry points anyone may press, even someone the bot holds nothing about (they could as well
# type /start): the menu, the questions, the language, "My requests", a form's start. After
# /xoadulieu the person is deleted, and the menu under the confirmation must still work.
PUBLIC = {
    payloads.Menu.namespace, payloads.Faq.namespace, payloads.Language.namespace,
    payloads.MyRequests.namespace,
}  # fmt: skip


def public_button(payload: str) -> bool:
    """A press that needs no history with the person (see PUBLIC)."""
    namespace = payloads.namespace(payload)
    if namespace in PUBLIC:
        return True
    return any(f.button == namespace for f in FORMS.values()) and payload.endswith(":start")


def officer_button(payload: str) -> bool:
    """An officer's one-tap action on a case: the only press taken in a group chat (a case
    alert in a registered officers' group), and from someone the bot never wrote to."""
    return payloads.namespace(payload) == payloads.OfficerAction.namespace


# state["flow"] -> the handler for what the person sends while that flow is active
# (text, or a photo or sticker where text was expected).
FLOWS: dict[str, Handler] = {
    "question": aside(question.on_text),
    "form": partial(forms.on_text, forms=FORMS),
    "case_reply": aside(case_reply.on_text),
    "officer_write": aside(officer.on_text),
}

FALLBACK: Handler = aside(faq.on_text)
# The dispatcher's own refusals, before any handler runs.
TOO_LONG = menu.too_long
SLOW_DOWN = menu.slow_down
STALE = menu.stale
UNSUPPORTED: Handler = aside(menu.unsupported)
UNKNOWN_COMMAND: Handler = aside(menu.unknown_command)


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
