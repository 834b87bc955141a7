"""Channel-agnostic conversation logic. The whole command surface on one screen.

The dispatcher (bot/dispatch.py) picks a handler in this order: a button press by the
payload's namespace (BUTTONS), a /command (COMMANDS), the person's active flow (FLOWS),
else FALLBACK for free text. Handlers never import telegram, aiohttp, bot.channels or
bot.web.
"""

from __future__ import annotations

from functools import partial

from handlers import (
    casework,
    faq,
    forms,
    grievance,
    membership,
    menu,
    officer,
    privacy,
    question,
    status,
    support,
)
from handlers.types import Handler

# The multi-step forms (handlers/forms.py runs them), by name.
FORMS: dict[str, forms.Form] = {
    form.name: form for form in (membership.FORM, grievance.FORM, support.FORM)
}

COMMANDS: dict[str, Handler] = {
    "start": menu.start,
    "menu": menu.show,
    "help": menu.help,
    "lang": menu.language,
    "cancel": question.cancel,
    "huy": question.cancel,
    "hoso": status.show,
    "tracuu": status.look_up,
    "xoadulieu": privacy.ask,
    # Officers (unknown commands to everyone else).
    "queue": officer.queue,
    "case": officer.show_case,
    "canbo": officer.link,
}

# Button payloads are "<namespace>:<rest>"; the namespace picks the handler.
BUTTONS: dict[str, Handler] = {
    "menu": menu.on_button,
    "faq": faq.on_button,
    "join": membership.on_button,
    "report": grievance.on_button,
    "support": support.on_button,
    "privacy": privacy.on_button,
    "case": casework.on_button,
    "f": partial(forms.on_button, forms=FORMS),
    "lang": menu.on_language_button,
    "q": question.on_button,
    "status": status.on_button,
    "o": officer.on_button,
}

# state["flow"] -> the handler for what the person sends while that flow is active
# (text, or a photo or sticker where text was expected).
FLOWS: dict[str, Handler] = {
    "question": question.on_text,
    "form": partial(forms.on_text, forms=FORMS),
    "case_reply": casework.on_text,
    "officer_write": officer.on_text,
}

FALLBACK: Handler = faq.on_text
UNSUPPORTED: Handler = menu.unsupported
UNKNOWN_COMMAND: Handler = menu.unknown_command
