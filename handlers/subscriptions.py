"""/dangky and /dung: which broadcasts a worker receives (the topics of
bot/services/broadcasts.py).

/dangky (or "Union news" in the menu) shows what the worker receives and one button per
topic, ✓ on those chosen; a press stores the change at once and shows the choice again.
Nothing is asked for targeting: the audience is narrowed by what the worker already told
the bot. /dung stops everything, and so do a few words typed alone outside any flow
(STOP_WORDS): with their diacritics only, as "dung" alone is also the name Dũng. Inside a
form "dừng" is the form's own cancel word (handlers/forms.py).

Broadcasts reach Telegram and Zalo only (storage.broadcasts.CHANNELS): elsewhere (the web
chat, the terminal) nothing is stored and the worker is told where the news goes.
"""

from __future__ import annotations

import typing

from bot.services.broadcasts import TOPICS
from bot.services.i18n import _
from bot.services.menus import NEWS
from bot.services.text import accented_words
from handlers import menu
from handlers.payloads import Subscribe, Topic
from handlers.types import Button, Context, Incoming, Keyboard, Outgoing, StaleButton
from storage import subscriptions
from storage.broadcasts import CHANNELS
from storage.models import SUBSCRIPTION_TOPICS

assert typing.get_args(Topic) == SUBSCRIPTION_TOPICS

# Typed alone (whole message, any case), these stop every subscription.
STOP_WORDS = frozenset(
    " ".join(accented_words(text))
    for text in ("dừng", "huỷ đăng ký", "hủy đăng ký", "dừng nhận tin", "ngừng nhận tin", "stop")
)
CHECK = "✓ "


def is_stop_word(text: str | None) -> bool:
    """Free text that asks to stop receiving news ("dừng", "stop"…), not the name "Dũng"."""
    return text is not None and " ".join(accented_words(text)) in STOP_WORDS


def reachable(ctx: Context) -> bool:
    """Whether broadcasts can reach this person's messenger."""
    return ctx.address.channel in CHANNELS


async def show(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/dangky and the menu's "Union news": what the worker receives, and the choice."""
    if not reachable(ctx):
        text = _(
            "Union news is sent on Telegram and Zalo. To receive it, write to the union "
            "there and send /dangky."
        )
        return [ctx.reply(text, menu.main_menu())]
    return [await _choice(ctx)]


async def chosen_by(ctx: Context) -> set[str]:
    """The topics the person receives now."""
    return await subscriptions.topics(ctx.session, ctx.person.id)


async def _choice(ctx: Context) -> Outgoing:
    chosen = await chosen_by(ctx)
    if chosen:
        now = _("You receive: {topics}.").format(topics=named(chosen))
    else:
        now = _("You do not receive news from the union yet.")
    text = now + "\n" + _("Tap what you want to receive (tap again to turn it off).")
    rows: list[tuple[Button, ...]] = [
        (_toggle(typing.cast(Topic, topic), chosen),) for topic in TOPICS
    ]
    rows.append(
        (
            Button(_("Receive all"), Subscribe("all").pack()),
            Button(_("Done"), Subscribe("done").pack()),
        )
    )
    return ctx.reply(text, rows)


def _toggle(topic: Topic, chosen: set[str]) -> Button:
    """A topic's button: ✓ and "turn off" when chosen, else "turn on"."""
    label = _(TOPICS[topic])
    if topic in chosen:
        return Button(CHECK + label, Subscribe("off", topic).pack())
    return Button(label, Subscribe("on", topic).pack())


def named(chosen: set[str]) -> str:
    """The chosen topics' names, in the order of the choice."""
    return ", ".join(_(label) for topic, label in TOPICS.items() if topic in chosen)


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """sub:show, sub:on:<topic>, sub:off:<topic>, sub:all, sub:done."""
    pressed = Subscribe.unpack(msg.payload)
    if (pressed.topic is not None) != (pressed.verb in ("on", "off")):
        raise StaleButton(msg.payload)
    if pressed.verb == "show" or not reachable(ctx):
        return await show(ctx, msg)
    if pressed.verb == "done":
        return [await _done(ctx)]
    if pressed.verb == "off":
        await subscriptions.unsubscribe(ctx.session, ctx.person.id, [str(pressed.topic)])
    else:
        chosen = list(TOPICS) if pressed.verb == "all" else [str(pressed.topic)]
        await subscriptions.subscribe(ctx.session, ctx.person.id, chosen, ctx.now)
    return [await _choice(ctx)]


async def _done(ctx: Context) -> Outgoing:
    chosen = await chosen_by(ctx)
    if chosen:
        text = _("Done. You will receive: {topics}. To stop, send /dung.").format(
            topics=named(chosen)
        )
    else:
        text = _("Done. You will not receive news from the union. To sign up, send /dangky.")
    return ctx.reply(text, menu.main_menu())


async def stop(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/dung, or a stop word typed alone: every subscription goes at once."""
    if await subscriptions.unsubscribe(ctx.session, ctx.person.id):
        text = _(
            "Stopped: you will no longer receive news from the union. To receive it again, "
            "send /dangky."
        )
    else:
        text = _(
            "You are not receiving news from the union, so there is nothing to stop. "
            "To sign up, send /dangky."
        )
    return [ctx.reply(text, menu.main_menu())]


async def offered(ctx: Context) -> Keyboard:
    """The main menu with "Union news" first, for a worker who could receive it and does
    not yet (under a membership receipt)."""
    keyboard = menu.main_menu()
    if not reachable(ctx) or await chosen_by(ctx):
        return keyboard
    news = [row for row in keyboard if any(b.payload == NEWS for b in row)]
    return (*news, *(row for row in keyboard if row not in news))
