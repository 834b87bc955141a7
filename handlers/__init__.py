"""Channel-agnostic conversation logic. The whole command surface on one screen.

The dispatcher (bot/dispatch.py) picks a handler in this order: a button press by the
payload's namespace (BUTTONS), a /command (COMMANDS), the person's active flow (FLOWS),
else FALLBACK for free text. Handlers never import telegram, aiohttp, bot.channels or
bot.web.
"""

from __future__ import annotations

from handlers import faq, menu, question, status
from handlers.types import Handler

COMMANDS: dict[str, Handler] = {
    "start": menu.start,
    "menu": menu.show,
    "help": menu.help,
    "lang": menu.language,
    "cancel": question.cancel,
    "huy": question.cancel,
}

# Button payloads are "<namespace>:<rest>"; the namespace picks the handler.
BUTTONS: dict[str, Handler] = {
    "menu": menu.on_button,
    "faq": faq.on_button,
    "lang": menu.on_language_button,
    "q": question.on_button,
    "status": status.on_button,
}

# state["flow"] -> the handler for text while that flow is active.
FLOWS: dict[str, Handler] = {
    "question": question.on_text,
}

FALLBACK: Handler = faq.on_text
UNSUPPORTED: Handler = menu.unsupported
UNKNOWN_COMMAND: Handler = menu.unknown_command
