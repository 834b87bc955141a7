"""The web chat: talk to the bot as a worker in a browser at /chat.

The only file that knows the web chat's wire format. A visitor is a random id in an HttpOnly,
SameSite=Strict cookie, signed so that only ids this server made are accepted, and never
logged. The database holds only its keyed hash (`tag("web-visitor:" + id)`, the vault's, given
by bot/app.py): that is the visitor's user and chat id in the people, inbox and outbox tables,
so reading the database tells no one which cookie to forge, and a stored value is no cookie.
- GET /chat serves the page (bot/web/static/chat.html, .js, .css; no outside assets). It
  makes a new visitor when the cookie is missing, at most NEW_VISITORS_PER_HOUR per client
  address; nothing is stored until the visitor sends a message.
- POST /chat/send takes {"id": <client uuid>, "text": ...} or {"id": ..., "button": ...},
  stores it in the inbox and only then answers 202; a resent id is stored once.
- GET /chat/messages?after=N long-polls the outbox for the bot's replies to this visitor, so
  they survive restarts and can be written by any process. send() only wakes waiting polls:
  the reply is already in the outbox, and the sender marks it sent.
- POST /chat/forget ("Quên thiết bị này", for a shared or inspected browser) deletes the
  visitor's replies, moves their person row to an id nobody holds and clears the cookie. The
  cases stay with the union; an anonymous one is still followed with its code and PIN
  (/tracuu).
Over-long text, floods and forged buttons are the dispatcher's to refuse, as on Telegram.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from importlib import resources
from typing import Any

from aiohttp import web

from bot.channels.base import Delivery, FetchError
from bot.config import Network, real_client
from bot.inbox import InboxWriter
from bot.logs import describe
from handlers.types import Incoming
from storage import outbox, people
from storage.db import Database
from storage.inbox import NewUpdate, without_nul
from storage.models import OutboxItem

log = logging.getLogger(__name__)

PATH = "/chat"
COOKIE = "unionbot_chat"
# Long enough to follow a case through (the cookie is renewed each time the page is opened).
COOKIE_MAX_AGE = 90 * 24 * 3600
# The longest text the dispatcher accepts (4096 characters, 3 bytes each in Vietnamese) fits,
# sent as the page sends it (UTF-8 JSON).
MAX_BODY_BYTES = 16 * 1024
# Visitors one client address may start in an hour. Enough for a factory's workers behind one
# network address; few enough that made-up visitors cannot fill the database.
NEW_VISITORS_PER_HOUR = 60
NEW_VISITOR_WINDOW = 3600.0
# Past this many addresses, those quiet for a whole window are dropped.
SWEEP_AT = 10_000
POLL_SECONDS = 20.0
# Replies written by another process wake nobody here: look again this often.
RECHECK_SECONDS = 5.0
PAGE_SIZE = 50
# The cookie: the random id, a dot, and the first 32 hex digits of its keyed hash.
VISITOR = re.compile(r"([A-Za-z0-9_-]{32})\.([0-9a-f]{32})")
# What the database holds for a visitor: the full keyed hash.
STORED = re.compile(r"[0-9a-f]{64}")
CLIENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
AFTER = re.compile(r"[0-9]{1,18}")
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# The page, told to show its "too many new visitors" text (chat.js) instead of chatting.
BUSY_MARK = (b"<body>", b'<body data-refused="busy">')
Tagger = Callable[[str], str]


class NewVisitors:
    """New visitors started per client address in the last hour (this process only)."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._starts: dict[str, deque[float]] = {}

    def wait(self, address: str, now: float) -> float:
        """0 and counted when `address` may start one more; else the seconds to wait."""
        if len(self._starts) > SWEEP_AT:
            self._sweep(now)
        starts = self._starts.setdefault(address, deque())
        while starts and starts[0] <= now - NEW_VISITOR_WINDOW:
            starts.popleft()
        if len(starts) >= self.per_hour:
            return starts[0] + NEW_VISITOR_WINDOW - now if starts else NEW_VISITOR_WINDOW
        starts.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        quiet = [a for a, s in self._starts.items() if not s or s[-1] <= now - NEW_VISITOR_WINDOW]
        for address in quiet:
            del self._starts[address]


BodyReader = Callable[[OutboxItem], tuple[str, list[list[list[str]]]]]


def _shown(row_id: int, text: str, buttons: list[list[list[str]]]) -> dict[str, Any]:
    """One reply as the page reads it."""
    return {
        "id": row_id,
        "text": text,
        "buttons": [
            [{"label": label, "payload": payload} for label, payload in line] for line in buttons
        ],
    }


class WebChatChannel:
    name = "web"
    keeps_history = True  # it reads its replies from the outbox

    def __init__(
        self,
        database: Database,
        inbox: InboxWriter,
        tag: Tagger,
        *,
        read_body: BodyReader = lambda row: (row.text, row.buttons or []),
        trusted_proxies: Sequence[Network] = (),
        poll_seconds: float = POLL_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.db = database
        self.inbox = inbox
        # Outbox rows hold their text sealed; bot/app.py passes bot/outbox.py's opener.
        self.read_body = read_body
        self.trusted_proxies = tuple(trusted_proxies)
        self._tag = tag
        self.new_visitors = NewVisitors(NEW_VISITORS_PER_HOUR)
        self.poll_seconds = poll_seconds
        self.recheck_seconds = recheck_seconds
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._closing = False
        static = resources.files("bot").joinpath("web", "static")
        self._page = static.joinpath("chat.html").read_bytes()
        if self._page.count(BUSY_MARK[0]) != 1:
            raise ValueError("chat.html must have exactly one plain <body> tag")
        self._busy_page = self._page.replace(*BUSY_MARK)
        self._assets = {name: static.joinpath(name).read_bytes() for name in ASSETS}
        self._etags = {
            name: '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            for name, data in self._assets.items()
        }

    # -- the visitor ----------------------------------------------------------------------

    def new_cookie(self) -> str:
        """A new visitor: a random id, signed."""
        visitor = secrets.token_urlsafe(24)
        return f"{visitor}.{self._signature(visitor)}"

    def cookie_of(self, request: web.Request) -> str | None:
        """The visitor cookie when this server made it, else None."""
        value = request.cookies.get(COOKIE)
        found = VISITOR.fullmatch(value) if value is not None else None
        if found is None or not hmac.compare_digest(
            found.group(2), self._signature(found.group(1))
        ):
            return None
        return value

    def visitor_of(self, request: web.Request) -> str | None:
        """What the database knows this visitor by (the keyed hash of the cookie's id)."""
        cookie = self.cookie_of(request)
        return self._tag("web-visitor:" + cookie.split(".")[0]) if cookie else None

    def _signature(self, visitor: str) -> str:
        return self._tag("web-cookie:" + visitor)[:32]

    # -- HTTP ---------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        """GET /chat: the page, with a visitor cookie (a new one if missing, else renewed);
        429 when this client address has started too many visitors this hour."""
        visitor = self.cookie_of(request)
        if visitor is None:
            address = client_address(request, self.trusted_proxies)
            wait = self.new_visitors.wait(address, time.monotonic())
            if wait:
                return self.busy(wait)
            visitor = self.new_cookie()
        response = web.Response(
            body=self._page, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
        )
        response.set_cookie(
            COOKIE,
            visitor,
            path=PATH,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
        )
        return response

    def busy(self, wait: float) -> web.Response:
        """429: the page showing "too many new visitors from this network", and no cookie."""
        headers = PAGE_HEADERS | {"Retry-After": str(max(1, round(wait)))}
        return web.Response(
            status=429,
            body=self._busy_page,
            content_type="text/html",
            charset="utf-8",
            headers=headers,
        )

    async def asset(self, request: web.Request) -> web.Response:
        """GET /chat/chat.js and /chat/chat.css."""
        name = request.match_info["name"]
        etag = self._etags[name]
        headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=self._assets[name], content_type=ASSETS[name], charset="utf-8", headers=headers
        )

    async def receive(self, request: web.Request) -> web.Response:
        """POST /chat/send: 202 once stored; 400 malformed, 413 too large, 503 not stored."""
        # A cross-site form cannot send JSON without a CORS preflight, which is never granted.
        if request.content_type != "application/json":
            return refusal(400, "expected application/json")
        visitor = self.visitor_of(request)
        if visitor is None:
            return refusal(400, "no visitor cookie: open /chat first")
        body = await read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return refusal(413, "message too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return refusal(400, "body is not JSON")
        update = to_update(visitor, data)
        if update is None:
            return refusal(400, 'expected {"id": uuid, "text": ...} or {"id": uuid, "button": ...}')
        try:
            await self.inbox.store([update])
        except Exception as exc:
            # Not stored: the page sends the same id again, which is stored once.
            log.warning("could not store a web chat message: %s", describe(exc))
            return refusal(503, "try again")
        return web.json_response({"ok": True}, status=202, headers=NO_STORE)

    async def messages(self, request: web.Request) -> web.Response:
        """GET /chat/messages?after=N: this visitor's replies with ids above N, oldest first;
        waits up to poll_seconds for one before answering []."""
        visitor = self.visitor_of(request)
        if visitor is None:
            return refusal(400, "no visitor cookie: open /chat first")
        after = request.query.get("after", "0")
        if AFTER.fullmatch(after) is None:
            return refusal(400, "after must be a message id")
        try:
            found = await self.wait_for(visitor, int(after))
        except Exception as exc:
            log.warning("could not read web chat replies: %s", describe(exc))
            return refusal(503, "try again")
        return web.json_response(found, headers=NO_STORE)

    async def forget(self, request: web.Request) -> web.Response:
        """POST /chat/forget: end this browser's session ("Quên thiết bị này"); 200 with the
        cookie cleared, 400 without a visitor or JSON, 403 from another site, 503 not done."""
        # As /chat/send: a cross-site form cannot send JSON without a preflight, and the
        # SameSite=Strict cookie stays home. A browser that names the request's site is held
        # to it too.
        if request.content_type != "application/json":
            return refusal(400, "expected application/json")
        if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            return refusal(403, "only this page may end its session")
        visitor = self.visitor_of(request)
        if visitor is None:
            return refusal(400, "no visitor cookie: open /chat first")
        try:
            await self.retire(visitor)
        except Exception as exc:
            log.warning("could not forget a web chat visitor: %s", describe(exc))
            return refusal(503, "try again")
        for woken in self._waiting.get(visitor, ()):
            woken.set()
        response = web.json_response({"ok": True}, headers=NO_STORE)
        response.del_cookie(
            COOKIE, path=PATH, httponly=True, samesite="Strict", secure=is_https(request)
        )
        return response

    async def retire(self, visitor: str) -> None:
        """Delete the visitor's replies and move their person row (with its cases, requests
        and conversation) to a random id that no cookie leads to: a kept copy of the cookie
        then reads nothing and speaks for no one."""
        async with self.db.writing(), self.db.sessions() as session:
            await outbox.forget_chat(session, self.name, visitor)
            person = await people.find(session, self.name, visitor)
            if person is not None:
                person.channel_user_id = secrets.token_hex(32)
            await session.commit()

    async def wait_for(self, visitor: str, after: int) -> list[dict[str, Any]]:
        """Replies above `after`, or [] after poll_seconds without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.poll_seconds
        woken = asyncio.Event()
        # Registered before the first read: a reply committed after that read still wakes us.
        self._waiting.setdefault(visitor, set()).add(woken)
        try:
            while True:
                woken.clear()
                found = await self.read(visitor, after)
                remaining = deadline - loop.time()
                if found or self._closing or remaining <= 0:
                    return found
                with suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, self.recheck_seconds))
        finally:
            waiting = self._waiting.get(visitor)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self._waiting[visitor]

    async def read(self, visitor: str, after: int) -> list[dict[str, Any]]:
        async with self.db.sessions() as session:
            rows = await outbox.for_chat(session, self.name, visitor, after, PAGE_SIZE)
        return [_shown(row.id, *self.read_body(row)) for row in rows]

    def close(self) -> None:
        """On shutdown: answer waiting polls now instead of holding the server's stop."""
        self._closing = True
        for waiting in self._waiting.values():
            for woken in waiting:
                woken.set()

    # -- the Channel protocol -----------------------------------------------------------

    def to_incoming(self, payload: dict[str, Any]) -> Incoming | None:
        visitor = payload.get("visitor")
        if not isinstance(visitor, str) or STORED.fullmatch(visitor) is None:
            return None
        text, button, message_id = payload.get("text"), payload.get("button"), payload.get("id")
        return Incoming(
            channel=self.name,
            user_id=visitor,
            chat_id=visitor,
            text=text if isinstance(text, str) else None,
            payload=button if isinstance(button, str) else None,
            external_id=message_id if isinstance(message_id, str) else "",
        )

    async def send(self, delivery: Delivery) -> None:
        """The reply is in the outbox already: wake this visitor's waiting polls."""
        for woken in self._waiting.get(delivery.chat_id, ()):
            woken.set()

    def numbered(self, delivery: Delivery) -> list[str]:
        """Buttons are buttons here: nothing to remember."""
        return []

    async def acknowledge(self, msg: Incoming) -> None:
        """A pressed button needs no acknowledgement in the browser."""

    async def fetch(self, reference: str, limit: int) -> bytes:
        raise FetchError("the web chat sends no files", permanent=True)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application, key: web.AppKey[WebChatChannel]) -> None:
    """The web chat's routes, reaching the channel at app[key] (set once the runtime starts),
    and its shutdown hook."""

    def via(method: Callable[[WebChatChannel, web.Request], Awaitable[web.Response]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await method(request.app[key], request)

        return handle

    async def close(app: web.Application) -> None:
        channel = app.get(key)
        if channel is not None:
            channel.close()

    app.router.add_get(PATH, via(WebChatChannel.page))
    app.router.add_get(PATH + "/{name:chat\\.(?:js|css)}", via(WebChatChannel.asset))
    app.router.add_post(PATH + "/send", via(WebChatChannel.receive))
    app.router.add_get(PATH + "/messages", via(WebChatChannel.messages))
    app.router.add_post(PATH + "/forget", via(WebChatChannel.forget))
    app.on_shutdown.append(close)


def to_update(visitor: str, data: object) -> NewUpdate | None:
    """The inbox row for a message sent by `visitor` (its keyed hash), or None when the body
    has the wrong shape."""
    if not isinstance(data, dict):
        return None
    message_id = data.get("id")
    if not isinstance(message_id, str) or CLIENT_ID.fullmatch(message_id.lower()) is None:
        return None
    message_id = message_id.lower()
    kind = "text" if data.keys() == {"id", "text"} else "button"
    value = data.get(kind)
    if data.keys() != {"id", kind} or not isinstance(value, str):
        return None
    # PostgreSQL cannot store NUL; a lone surrogate cannot even be encoded.
    value = without_nul(value)
    if not value.strip() or not _encodable(value):
        return None
    # Unique per visitor and message, without keeping the visitor's id in the inbox table
    # once the payload is cleared.
    external_id = hashlib.sha256(f"{visitor}:{message_id}".encode()).hexdigest()
    return NewUpdate(
        WebChatChannel.name,
        external_id,
        {"visitor": visitor, "id": message_id, kind: value},
        sender=visitor,
    )


def client_address(request: web.Request, trusted: Sequence[Network] = ()) -> str:
    """Who opens the page, for counting new visitors: the client's address (from
    X-Forwarded-For only behind a proxy UNIONBOT_TRUSTED_PROXIES names, as the dashboard's
    login does), an IPv6 one as its /64 (one household or phone gets a whole /64)."""
    forwarded = request.headers.getall("X-Forwarded-For", [])
    address = real_client(request.remote, forwarded, trusted)
    with suppress(ValueError):
        parsed = ipaddress.ip_address(address)
        if parsed.version == 6:
            return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


def is_https(request: web.Request) -> bool:
    """Behind a TLS-terminating proxy the request arrives over http; the proxy says so.
    A client claiming it falsely only gets a cookie its browser will not keep over http."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` bytes.

    The app has read it already, within its time limit and client_max_size (bot/app.py), so
    nothing here waits on the visitor's network."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = await request.read()
    return body if len(body) <= limit else None


def refusal(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=status, headers=NO_STORE)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
