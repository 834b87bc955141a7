"""Arriving through an outreach link (a poster's QR code): /start <code> from Telegram's deep
link or the web chat's link, or the code typed alone (Zalo's links carry no parameter).
The arrival is counted for the link, and its workplace or ward is kept to pre-fill the forms
(bot/services/outreach.py)."""

from __future__ import annotations

from bot.services import outreach
from bot.services.i18n import _
from handlers import menu
from handlers.types import Context, Incoming, Outgoing


async def start(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/start, with the code of an outreach link or without."""
    args = (msg.text or "").split()[1:]
    code = outreach.typed_code(args[0]) if len(args) == 1 else None
    if code is None:
        return await menu.start(ctx, msg)
    return await arrive(ctx, code) or await menu.start(ctx, msg)


async def typed(ctx: Context, msg: Incoming) -> list[Outgoing] | None:
    """A message that is only a link's code: the greeting as through the link; None when it
    is not the code of an active link (then it is a question like any other)."""
    code = outreach.typed_code(msg.text)
    return await arrive(ctx, code) if code else None


async def arrive(ctx: Context, code: str) -> list[Outgoing] | None:
    arrival = await outreach.arrive(ctx.session, ctx.state, code, ctx.now)
    if arrival is None:
        return None
    text = menu.greeting()
    if place := arrival.workplace or arrival.ward:
        note = _(
            "I see you came through the union's link for {place}. When you fill in a form, "
            "I will ask you to confirm it."
        ).format(place=place)
        text = f"{text}\n\n{note}"
    return [ctx.reply(text, menu.main_menu())]
