"""The main menu: the entry points every notice and most replies end with.

It lives with the services because what the union tells a worker outside a conversation
(an officer's answer, a status change) offers it too; handlers/menu.py shows it.
"""

from __future__ import annotations

from bot.services.i18n import _
from handlers.payloads import Begin, Faq, Language, Menu, MyRequests, Subscribe
from handlers.types import Button, Keyboard

# The forms' start buttons (each form names its own namespace: handlers/membership.py,
# grievance.py, support.py).
JOIN = Begin("join").pack()
REPORT = Begin("report").pack()
SUPPORT = Begin("support").pack()
# Which broadcasts to receive (handlers/subscriptions.py), the same screen as /dangky.
NEWS = Subscribe("show").pack()


def main_menu() -> Keyboard:
    """The entry points in the person's language: six, two per row, then union news."""
    return (
        (Button(_("Questions"), Faq("home").pack()), Button(_("Join the union"), JOIN)),
        (
            Button(_("Report a problem"), REPORT),
            Button(_("Hardship support"), SUPPORT),
        ),
        (
            Button(_("My requests"), MyRequests("list").pack()),
            Button("Ngôn ngữ / Language", Language("choose").pack()),
        ),
        (Button(_("Union news"), NEWS),),
    )


def back_to_menu() -> Button:
    return Button(_("Main menu"), Menu("home").pack())
