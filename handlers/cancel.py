"""/cancel and /huy: stop whatever is in progress, a form set aside included (with its
files), and show the menu. Inside a form, typed cancel words are the form's business
(handlers/forms.py asks first)."""

from __future__ import annotations

from bot.services.i18n import _
from handlers import forms, menu
from handlers.types import Context, Incoming, Outgoing


async def run(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/cancel, /huy: drop what is in progress, a form set aside included (with its files)."""
    had_something = bool(ctx.state.get("flow") or ctx.state.get(forms.PAUSED))
    await forms.drop(ctx)
    text = _("Cancelled.") if had_something else _("There is nothing to cancel.")
    return [ctx.reply(text + " " + _("What do you need? Choose one below."), menu.main_menu())]
