"""The main menu, greeting, help, language choice, and the polite answers to what the bot
cannot use (unknown commands, stickers, stale buttons, over-long text)."""

from __future__ import annotations

from bot.services import menus
from bot.services.i18n import LANGUAGES, _
from handlers import payloads
from handlers.types import Address, Button, Context, Incoming, Outgoing, StaleButton

LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


# Re-exported: every handler ends its replies with them.
main_menu = menus.main_menu
back_to_menu = menus.back_to_menu


def greeting() -> str:
    return _(
        "Hello! I am the union's automated assistant, not a person. I can help you:\n"
        "• ask about your rights at work and about the union\n"
        "• register to join the union\n"
        "• report a problem at work, anonymously if you wish\n"
        "• ask for support when you are in hardship\n"
        "Choose one below."
    )


async def start(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/start: greet and show the menu."""
    return [ctx.reply(greeting(), main_menu())]


async def show(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/menu: the main menu."""
    return [ctx.reply(_("What do you need? Choose one below."), main_menu())]


async def help(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/help: the commands and what the bot is."""
    return [
        ctx.reply(
            _(
                "How to use this chat:\n"
                "/menu – the main menu\n"
                "/hoso – my requests\n"
                "/dangky – choose the union news you receive\n"
                "/dung – stop receiving union news\n"
                "/xoadulieu – see and delete your data\n"
                "/lang – change language (vi, en)\n"
                "/cancel – stop what you are doing\n"
                "/help – this help\n"
                "You can also tap the buttons. I am an automated assistant; union officers "
                "read the messages you leave for them and answer here."
            ),
            main_menu(),
        )
    ]


async def language(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/lang [vi|en]: switch directly, or offer the choice."""
    args = (msg.text or "").split()[1:]
    if args and args[0].lower() in LANGUAGES:
        return _switch(ctx, args[0].lower())
    return [_language_choice(ctx)]


def _language_choice(ctx: Context) -> Outgoing:
    buttons = tuple(
        Button(LANGUAGE_NAMES[code], payloads.Language(code).pack()) for code in LANGUAGES
    )
    return ctx.reply("Chọn ngôn ngữ / Choose your language", (buttons,))


def _switch(ctx: Context, code: str) -> list[Outgoing]:
    ctx.set_language(code)
    return [ctx.reply(_("Done: I will write to you in English."), main_menu())]


async def on_language_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """lang:choose and lang:<code> buttons."""
    choice = payloads.Language.unpack(msg.payload).code
    if choice == "choose":
        return [_language_choice(ctx)]
    if choice not in LANGUAGES:
        raise StaleButton(msg.payload)
    return _switch(ctx, choice)


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """menu:home, the way back from anywhere."""
    payloads.Menu.unpack(msg.payload)
    return await show(ctx, msg)


async def unknown_command(ctx: Context, msg: Incoming) -> list[Outgoing]:
    command = (msg.text or "").split()[0][:40]
    return [
        ctx.reply(
            _("I do not know the command {command}. Send /help to see the commands.").format(
                command=command
            ),
            main_menu(),
        )
    ]


async def unsupported(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """Stickers, photos, voice and other things without text."""
    return [
        ctx.reply(
            _("For now I can only read text messages. Please type your message or choose below."),
            main_menu(),
        )
    ]


def stale(to: Address) -> Outgoing:
    """The refusal for a forged, malformed or outdated button; nothing has changed."""
    return Outgoing(to, _("That button no longer works. Please choose again."), main_menu())


def slow_down(to: Address) -> Outgoing:
    """Said once when a person sends more messages in a minute than anyone types."""
    return Outgoing(
        to,
        _(
            "You are sending messages very fast. Please wait a minute before sending more; "
            "I cannot read what arrives in the meantime."
        ),
    )


def too_long(to: Address) -> Outgoing:
    """The refusal for text over the limit; the dispatcher sends it before anything changes."""
    return Outgoing(
        to,
        _(
            "Your message is too long (over 4096 characters). Please split it into "
            "shorter messages."
        ),
    )
