"""The main menu: the six entry points every notice and most replies end with.

It lives with the services because what the union tells a worker outside a conversation
(an officer's answer, a status change) offers it too; handlers/menu.py shows it.
"""

from __future__ import annotations

from bot.services.i18n import _
from handlers.types import Button, Keyboard


def main_menu() -> Keyboard:
    """The six entry points, two per row, in the person's language."""
    return (
        (Button(_("Questions"), "faq:home"), Button(_("Join the union"), "join:start")),
        (
            Button(_("Report a problem"), "report:start"),
            Button(_("Hardship support"), "support:start"),
        ),
        (Button(_("My requests"), "status:list"), Button("Ngôn ngữ / Language", "lang:choose")),
    )


def back_to_menu() -> Button:
    return Button(_("Main menu"), "menu:home")
