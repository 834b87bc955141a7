"""What every dashboard page shares: the unit of work around it, the login and CSRF checks,
the templates and their labels, the security headers.

`page(view)` wraps a view: it reads the posted form, then opens the outbox's unit of work
(bot/outbox.py), so the session, the audit rows and the worker's messages an action produces
commit together and go to the sender afterwards; it speaks the dashboard's language and
checks the login. Views take the form from `Page.form`, never from the request: nothing
inside the unit of work may wait on a client's network.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from babel.numbers import format_decimal, format_percent
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import database_full, describe
from bot.outbox import Sender, Work
from bot.services import Services, access, alerts, labels
from bot.services.i18n import N_, _, current_language, format_datetime
from bot.services.teaching import Tutor
from bot.web import auth
from handlers.types import Outgoing
from storage import cases, credentials
from storage.models import Case

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# An evidence file's kind, state and why it could not be used, as stored (bot/fetcher.py,
# bot/services/scrubber.py); a reason without a label here is not shown.
FILE_KINDS = {"photo": N_("Photo"), "voice": N_("Voice message"), "document": N_("Document")}
FILE_STATUSES = {
    "pending": N_("still being fetched"),
    "ready": N_("ready"),
    "rejected": N_("cannot be used"),
    "failed": N_("could not be fetched"),
}
FILE_REASONS = {
    "too_large": N_("too large"),
    "empty": N_("empty"),
    "not_audio": N_("not a sound recording"),
    "unsupported": N_("a kind of file that is not taken"),
    "too_many_pixels": N_("picture too large"),
    "not_an_image": N_("not a picture"),
    "encrypted": N_("protected with a password"),
    "too_many_pages": N_("too many pages"),
    "not_a_pdf": N_("not a PDF file"),
    "no_reference": N_("nothing left to fetch"),
}


# The queue's saved views (storage/cases.py QUEUE_VIEWS), as the navigation names them.
QUEUE_VIEW_NAMES = {
    "new": N_("New"),
    "mine": N_("Mine"),
    "overdue": N_("Overdue"),
    "waiting": N_("Waiting for worker"),
    "all": N_("All"),
}


def category_of(case: Case) -> str | None:
    """A case's category label (a msgid), read as its kind means it."""
    return labels.category(case.kind, case.category)


QUESTION_TOPICS = labels.table(labels.QUESTION_TOPICS)


def category_name(services: Services, kind: str, category: str | None) -> str | None:
    """A case's category as officers read it, translated, a question's topic included (the
    menu item it came from, or a knowledge-base article's title); None when it has none or
    one without a label: never a stored code."""
    if category is None:
        return None
    if kind != "question":
        label = labels.category(kind, category)
        return _(label) if label else None
    if category in QUESTION_TOPICS:
        return _(QUESTION_TOPICS[category])
    article = services.knowledge.article(category, current_language())
    return article.title if article is not None else None


def number(value: float) -> str:
    """A number as the reader writes it: 13.600 in Vietnamese, 13,600 in English."""
    return format_decimal(value, format="#,##0.#", locale=current_language())


def percent(share: float | None) -> str:
    """A share as a percentage ("42%"), or a dash where there is none."""
    return "—" if share is None else format_percent(share, locale=current_language())


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.globals.update(
    _=_, when=format_datetime, kinds=labels.OFFICER_KINDS, statuses=labels.OFFICER_STATUSES,
    categories=labels.FILTER_CATEGORIES, category_of=category_of,
    file_kinds=FILE_KINDS, file_statuses=FILE_STATUSES, file_reasons=FILE_REASONS,
    shown=alerts.thread_text, view_names=QUEUE_VIEW_NAMES, number=number, percent=percent,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the pages need from the running bot (set by bot/app.py)."""

    services: Services
    sender: Sender  # its unit of work wraps every page
    tutor: Tutor  # retrains the FAQ matcher when officers teach it


DASHBOARD = web.AppKey("dashboard", Dashboard)


# What request.post() gives: the posted fields by name.
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


class Page:
    """What a view needs: the request, its form, the unit of work, the services, the login."""

    def __init__(self, request: web.Request, form: Form, work: Work, services: Services) -> None:
        self.request = request
        self.form = form  # the posted fields, read before the unit of work (empty on GET)
        self.work = work
        self.session = work.session
        self.now = work.now
        self.services = services
        self.login: auth.Login | None = None
        # What an admin must fix first (a messenger's tokens refused), shown on every page.
        self.trouble: str | None = None
        # How many requests each saved view of the queue holds, in the navigation.
        self.counts: dict[str, int] = {}
        self._scope: access.Scope | None = None

    def send(self, replies: list[Outgoing]) -> None:
        """Messages (to the worker, to officers) to send once the page's work commits."""
        self.work.send(replies)

    def render(self, template: str, status: int = 200, **values: Any) -> web.Response:
        values.setdefault("login", self.login)
        values.setdefault("trouble", self.trouble)
        values.setdefault("counts", self.counts)
        body = _env.get_template(template).render(**values)
        return web.Response(
            text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
        )

    def refuse(self, status: int, message: str) -> web.Response:
        return self.render("error.html", status=status, message=message)

    async def scope(self) -> access.Scope:
        """What the logged-in officer may read and act on (read once per page)."""
        assert self.login is not None
        if self._scope is None:
            self._scope = await access.scope(self.session, self.login.officer)
        return self._scope

    async def count_views(self) -> None:
        assert self.login is not None
        scope = await self.scope()
        self.counts = await cases.view_counts(
            self.session, scope.actionable(), scope.visible(), self.login.officer.id, self.now
        )


View = Callable[[Page], Awaitable[web.StreamResponse]]


async def trouble(session: AsyncSession, login: auth.Login) -> str | None:
    """For an admin: Zalo's tokens were refused and need authorising again, else None."""
    if login.officer.role != "admin":
        return None
    zalo = await credentials.get(session, "zalo")
    return _(alerts.ZALO_NEEDS_AUTHORISING) if zalo is not None and zalo.broken else None


def redirect(url: str) -> web.Response:
    """303 See Other: after a form, the browser loads the page with GET."""
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": url})


def page(view: View, *, login: bool = True, post: bool = False) -> Callable[..., Any]:
    """Wrap a view: unit of work, language, login and CSRF checks. When the database has no
    room for what the page would save, the officer reads so (503), not a server error."""

    async def handler(request: web.Request) -> web.StreamResponse:
        services = request.app[DASHBOARD].services
        # The form first: the unit of work holds the database (on SQLite its one writer),
        # which must never wait on a client's network.
        form = await request.post()
        with services.catalogs.activate(services.settings.default_language):
            try:
                return await _in_work(request, form, view, login=login, post=post)
            except Exception as exc:
                if not database_full(exc):
                    raise
                log.error("a dashboard page could not save its work: %s", describe(exc))
                return no_room()

    return handler


async def _in_work(
    request: web.Request, form: Form, view: View, *, login: bool, post: bool
) -> web.StreamResponse:
    """The view in the unit of work, behind the login and CSRF checks."""
    dashboard = request.app[DASHBOARD]
    services = dashboard.services
    async with dashboard.sender.work() as work:
        current = Page(request, form, work, services)
        if login:
            current.login = await auth.current(work.session, services.vault, request, work.now)
            if current.login is None:
                return redirect("/officer/login")
            current.trouble = await trouble(work.session, current.login)
            if not post:  # an action answers with a redirect: no page to count for
                await current.count_views()
            if post and not auth.csrf_ok(current.login.csrf, form.get("csrf")):
                work.discard()
                return current.refuse(403, _("This form has expired. Reload the page."))
        return await view(current)


def no_room() -> web.Response:
    """The page when the database refused to save for want of room: the unit of work rolled
    back as a whole, so nothing of the action happened. Without the officer's menu: what the
    session had loaded is gone with the rollback."""
    message = _(
        "Nothing was saved: the database is full (the server's disk has no room left). "
        "Try again later, and tell your administrator."
    )
    body = _env.get_template("error.html").render(
        login=None, trouble=None, counts={}, message=message
    )
    return web.Response(text=body, status=503, content_type="text/html", headers=SECURITY_HEADERS)
