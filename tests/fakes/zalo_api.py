"""A fake Zalo Official Account API server (aiohttp) that the bot's Zalo channel talks to.

It answers the OA endpoints the bot uses (consultation messages, promotion messages with
Zalo's hours and quota per follower, image and file uploads, the OAuth v4 token exchange, the
OA's profile that `unionbot doctor` reads), records every call, serves attachment files in
place of Zalo's CDN and delivers signed webhook events. Zalo answers errors with HTTP 200 and a
negative `error`, and so does the fake; ids and timestamps are strings, as Zalo sends them.

    fake = FakeZalo()
    await fake.start()          # fake.api_base -> "http://127.0.0.1:PORT", oauth_base -> …/oauth
    fake.webhook_url = f"{bot.url}/zalo/webhook"
    url = fake.add_file(b"%PDF-1.7 …", "giay-to.pdf")    # served at {fake.url}/files/giay-to.pdf
    await fake.deliver(fake.text_event("2468458835296197922", "xin chào"))   # signed POST
    await fake.wait_for("cs", 1, succeeded=True)
    fake.text_of(fake.sent()[-1])

The signature is X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA secret key),
a plain SHA-256 of the concatenated bytes, with `app_id` and `timestamp` read from the body.

ZaloUser (at the end) is a person in the Zalo app: they type, tap a button by its title and
wait for the bot's reply, so a dialogue over HTTP reads like one with `Talk`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import mimetypes
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

IMAGE_LIMIT = 1024 * 1024  # "jpg/png, ≤ 1 MB"
FILE_LIMIT = 5 * 1024 * 1024  # "PDF/DOC/DOCX, ≤ 5 MB"
TEXT_LIMIT = 2000  # characters in a consultation message
BUTTON_LIMIT = 5
KINDS = ("cs", "promotion", "upload_image", "upload_file", "token", "permission", "getoa")
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
# Promotion messages (bot/channels/zalo.py says where these come from): refused at night with
# -234, and past a follower's quota with -211.
PROMOTION_HOURS = (dt_time(6), dt_time(22))
PROMOTION_PER_MONTH = 4
PROMOTION_PER_DAY = 1
HEADER_LIMIT = 100
ELEMENT_TYPES = ("banner", "header", "text", "table")


@dataclass(slots=True)
class Call:
    """One request to the fake. `error` is None while it is being answered (a slow token
    call), then Zalo's code (0 for success); `status` is the HTTP status."""

    kind: str
    path: str
    params: dict[str, Any]
    access_token: str | None = None
    secret_key: str | None = None
    status: int = 200
    error: int | None = None
    result: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error == 0


@dataclass(slots=True)
class Failure:
    """How one call fails: Zalo's `error` with HTTP 200, or an HTTP `status` (a broken proxy);
    with `hang`, the answer comes only after so many seconds (past the bot's timeout, nobody
    reads it), and nothing is sent."""

    error: int
    message: str
    status: int = 200
    hang: float = 0.0


class ZaloError(Exception):
    """An error answer from a fake endpoint, as Zalo would give it (with HTTP 200)."""

    def __init__(self, error: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.extra = extra


def sign(body: bytes, app_id: str, timestamp: str, secret: str) -> str:
    """The X-ZEvent-Signature value Zalo sends with a webhook body."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode())
    return f"mac={digest.hexdigest()}"


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier: base64url of its SHA-256, unpadded."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def text_of(message: dict[str, Any]) -> str:
    """The text of a sent `message` object ("" for an attachment without a caption)."""
    return str(message.get("text", ""))


def buttons_of(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(title, type, payload) of the buttons under a sent message; an object payload (a URL,
    a phone number) is given as its JSON."""
    payload = (message.get("attachment") or {}).get("payload") or {}
    return [
        (str(b.get("title", "")), str(b.get("type", "")), _payload_text(b.get("payload")))
        for b in payload.get("buttons") or []
    ]


def promotion_text(message: dict[str, Any]) -> str:
    """The header and text elements of a promotion message, one per line."""
    payload = (message.get("attachment") or {}).get("payload") or {}
    elements = payload.get("elements") or []
    return "\n".join(
        str(e.get("content", "")) for e in elements if e.get("type") in ("header", "text")
    )


def _payload_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _now_ms(at: float | None = None) -> str:
    return str(int((time.time() if at is None else at) * 1000))


class FakeZalo:
    def __init__(
        self,
        app_id: str = "3608465249409039670",
        oa_secret: str = "oa-secret-test",
        app_secret: str = "app-secret-test",
        oa_id: str = "3886132808788088450",
        access_token: str = "zalo-access-1",
        refresh_token: str = "zalo-refresh-1",
        *,
        record: bool = True,
    ) -> None:
        self.app_id = app_id
        self.oa_secret = oa_secret
        self.app_secret = app_secret
        self.oa_id = oa_id
        # The currently valid pair: a refresh hands out a new one and retires both old ones.
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.record = record
        # Called with (user_id, message) for each message accepted (the benchmark's clock).
        self.on_send: Callable[[str, dict[str, Any]], None] | None = None
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        # Each call of a kind ("cs", "token", …), a failure or None (an outage for a while).
        self.chaos: Callable[[str], Failure | None] | None = None
        self.webhook_url: str | None = None
        self.delay_token_seconds = 0.0
        self.unfollowers: set[str] = set()
        self.inactives: set[str] = set()
        # Zalo's clock, for the promotional hours and quota (the tests' fixed clock).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.promotion_per_month = PROMOTION_PER_MONTH
        # user_id -> the local days of the promotion messages Zalo took for them.
        self.promoted: dict[str, list[date]] = {}
        # attachment_id or file token -> the uploaded bytes.
        self.uploads: dict[str, bytes] = {}
        # name -> content, served at /files/{name} in place of Zalo's CDN.
        self.files: dict[str, bytes] = {}
        self.downloads: list[str] = []
        # authorization code -> the PKCE challenge it was issued for (each code works once).
        self.codes: dict[str, str] = {}
        self._token_numbers = itertools.count(2)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.url = ""

    # -- server ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        # Large enough that an oversized upload gets Zalo's -210, not aiohttp's 413.
        app = web.Application(client_max_size=4 * FILE_LIMIT)
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v3.0/oa/message/promotion", self._promotion)
        app.router.add_post("/v2.0/oa/upload/image", self._upload_image)
        app.router.add_post("/v2.0/oa/upload/file", self._upload_file)
        app.router.add_post("/oauth/v4/oa/access_token", self._token)
        app.router.add_get("/oauth/v4/oa/permission", self._permission)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        app.router.add_get("/files/{name}", self._download)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = self._runner.addresses
        self.url = f"http://{host}:{sockets[0][1]}"
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        """What stands for https://openapi.zalo.me: the bot appends /v3.0/oa/message/cs…"""
        return self.url

    @property
    def oauth_base(self) -> str:
        """What stands for https://oauth.zaloapp.com: the bot appends /v4/oa/access_token."""
        return f"{self.url}/oauth"

    # -- recorded calls -------------------------------------------------------------------

    def calls_to(self, kind: str) -> list[Call]:
        """The calls of a kind ("cs", "upload_image", "upload_file", "token", "permission")
        or, given a path suffix such as "/message/cs", of the paths ending with it."""
        return [c for c in self.calls if c.kind == kind or c.path.endswith(kind)]

    def sent(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The `message` objects of the successful cs calls, optionally to one user."""
        return [
            c.params.get("message") or {} for c in self.calls_to("cs")
            if c.ok and (user_id is None or _recipient(c.params) == str(user_id))
        ]  # fmt: skip

    @property
    def messages(self) -> list[tuple[str, str]]:
        """(user_id, text) of every consultation message Zalo took, in order."""
        return [(_recipient(c.params), text_of(c.params.get("message") or {}))
                for c in self.calls_to("cs") if c.ok]  # fmt: skip

    def promotions(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The `message` objects of the promotion messages Zalo took, optionally to one user."""
        return [
            c.params.get("message") or {} for c in self.calls_to("promotion")
            if c.ok and (user_id is None or _recipient(c.params) == str(user_id))
        ]  # fmt: skip

    text_of = staticmethod(text_of)
    promotion_text = staticmethod(promotion_text)
    buttons_of = staticmethod(buttons_of)

    async def wait_for(
        self, kind: str, count: int = 1, timeout: float = 10.0, *, succeeded: bool = False
    ) -> None:
        """Wait until `kind` was called at least `count` times in all (that many successful
        calls with `succeeded`)."""
        deadline = time.monotonic() + timeout

        def seen() -> int:
            return sum(1 for c in self.calls_to(kind) if c.ok or not succeeded)

        while seen() < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                done = "succeeded" if succeeded else "called"
                raise TimeoutError(f"{kind} {done} {seen()} times, expected {count}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def fail_next(self, kind: str, error: int, message: str) -> None:
        """Make the next call of `kind` answer Zalo's error `error` (with HTTP 200)."""
        assert kind in KINDS, f"unknown kind {kind!r}; one of {KINDS}"
        self.failures.setdefault(kind, []).append(Failure(error, message))

    def fail_next_http(self, kind: str, status: int = 502) -> None:
        """Make the next call of `kind` fail at the HTTP level, as a broken proxy would."""
        assert kind in KINDS, f"unknown kind {kind!r}; one of {KINDS}"
        self.failures.setdefault(kind, []).append(Failure(0, "", status))

    def unfollowed(self, user_id: str) -> None:
        """Messages to this user get -213, as when they have unfollowed the OA."""
        self.unfollowers.add(str(user_id))

    def inactive(self, user_id: str) -> None:
        """Messages to this user get -230: no interaction in the past 7 days."""
        self.inactives.add(str(user_id))

    def authorization_code(self, code: str, challenge: str) -> None:
        """Register an authorization code the token endpoint accepts once, with the verifier
        whose S256 challenge is `challenge`."""
        self.codes[code] = challenge

    # -- files ----------------------------------------------------------------------------

    def add_file(self, content: bytes, name: str) -> str:
        """Make a file downloadable, as an attachment on Zalo's CDN; returns its URL."""
        self.files[name] = content
        return f"{self.url}/files/{name}"

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.files:
            return web.Response(status=404, text="Not Found")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=self.files[name], content_type=kind)

    # -- events ---------------------------------------------------------------------------

    def user_id_by_app(self, user_id: str) -> str:
        """The app-scoped id of a user: stable, 19 digits like Zalo's."""
        digest = hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()
        return str(10**18 + int(digest[:15], 16) % (8 * 10**18))

    def user_event(
        self, user_id: str, event_name: str, message: dict[str, Any], at: float | None = None
    ) -> dict[str, Any]:
        """A user_send_* event: `message` gets a fresh msg_id."""
        return {
            "app_id": self.app_id,
            "sender": {"id": str(user_id)},
            "user_id_by_app": self.user_id_by_app(user_id),
            "recipient": {"id": self.oa_id},
            "event_name": event_name,
            "message": {**message, "msg_id": secrets.token_hex(10)},
            "timestamp": _now_ms(at),
        }

    def text_event(
        self, user_id: str, text: str, *, quote_msg_id: str | None = None, at: float | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"text": text}
        if quote_msg_id is not None:
            message["quote_msg_id"] = quote_msg_id
        return self.user_event(user_id, "user_send_text", message, at)

    def image_event(
        self, user_id: str, url: str, *, text: str = "", at: float | None = None
    ) -> dict[str, Any]:
        attachment = {"type": "image", "payload": {"thumbnail": url, "url": url}}
        return self.user_event(
            user_id, "user_send_image", {"text": text, "attachments": [attachment]}, at
        )

    def file_event(
        self,
        user_id: str,
        url: str,
        name: str = "giay-to.pdf",
        size: str | None = None,
        type_: str | None = None,
        *,
        at: float | None = None,
    ) -> dict[str, Any]:
        """A file: size (a string) and type (an extension) default to the served file's."""
        content = self.files.get(url.rsplit("/", 1)[-1], name.encode())
        payload = {
            "size": str(len(content)) if size is None else size,
            "name": name,
            "checksum": hashlib.md5(content).hexdigest(),
            "type": type_ if type_ is not None else name.rsplit(".", 1)[-1].lower(),
            "url": url,
        }
        attachment = {"type": "file", "payload": payload}
        return self.user_event(user_id, "user_send_file", {"attachments": [attachment]}, at)

    def audio_event(self, user_id: str, url: str, *, at: float | None = None) -> dict[str, Any]:
        """A voice message: Zalo records .amr."""
        attachment = {"type": "audio", "payload": {"url": url}}
        return self.user_event(user_id, "user_send_audio", {"attachments": [attachment]}, at)

    def sticker_event(
        self, user_id: str, sticker_id: str = "bfe458bf64fa8da4d4eb", *, at: float | None = None
    ) -> dict[str, Any]:
        url = f"https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid={sticker_id}&size=130"
        attachment = {"type": "sticker", "payload": {"id": sticker_id, "url": url}}
        return self.user_event(user_id, "user_send_sticker", {"attachments": [attachment]}, at)

    def location_event(
        self,
        user_id: str,
        latitude: str = "10.7642473",
        longitude: str = "106.6564314",
        *,
        at: float | None = None,
    ) -> dict[str, Any]:
        coordinates = {"latitude": latitude, "longitude": longitude}
        attachment = {"type": "location", "payload": {"coordinates": coordinates}}
        return self.user_event(user_id, "user_send_location", {"attachments": [attachment]}, at)

    def follow_event(
        self, user_id: str, *, source: str = "oa_profile", at: float | None = None
    ) -> dict[str, Any]:
        """The user followed the OA: `follower` instead of `sender`, and no message."""
        return self._follower_event(user_id, "follow", source, at)

    def unfollow_event(
        self, user_id: str, *, source: str = "oa_profile", at: float | None = None
    ) -> dict[str, Any]:
        return self._follower_event(user_id, "unfollow", source, at)

    def _follower_event(
        self, user_id: str, event_name: str, source: str, at: float | None
    ) -> dict[str, Any]:
        return {
            "oa_id": self.oa_id,
            "follower": {"id": str(user_id)},
            "user_id_by_app": self.user_id_by_app(user_id),
            "event_name": event_name,
            "source": source,
            "app_id": self.app_id,
            "timestamp": _now_ms(at),
        }

    def oa_echo_event(
        self, user_id: str, text: str, *, admin_id: str | None = None, at: float | None = None
    ) -> dict[str, Any]:
        """The echo of a message the OA sent (sender and recipient swapped); `admin_id` only
        when an admin typed it in Zalo's OA chat tool. The bot must not answer it."""
        sender = {"id": self.oa_id}
        if admin_id is not None:
            sender["admin_id"] = admin_id
        return {
            "app_id": self.app_id,
            "sender": sender,
            "recipient": {"id": str(user_id)},
            "event_name": "oa_send_text",
            "message": {"text": text, "msg_id": secrets.token_hex(10)},
            "user_id_by_app": self.user_id_by_app(user_id),
            "timestamp": _now_ms(at),
        }

    def seen_event(
        self, user_id: str, msg_ids: list[str] | None = None, *, at: float | None = None
    ) -> dict[str, Any]:
        """The user saw messages: by default the last one sent to them."""
        if msg_ids is None:
            results = [c.result for c in self.calls_to("cs") if c.ok and c.result]
            mine = [r["message_id"] for r in results if r["user_id"] == str(user_id)]
            msg_ids = mine[-1:]
        event = self.user_event(user_id, "user_seen_message", {}, at)
        event["message"] = {"msg_ids": list(msg_ids)}
        return event

    def tap_event(self, user_id: str, label: str, *, at: float | None = None) -> dict[str, Any]:
        """A tap on the button titled `label` under the last message sent to the user, as
        the Zalo app makes it: an oa.query.show/hide button sends its payload as the user's
        text (shown in the chat or hidden)."""
        sent = self.sent(user_id)
        buttons = buttons_of(sent[-1]) if sent else []
        found = [(kind, payload) for title, kind, payload in buttons if title == label]
        assert found, (
            f"no button {label!r} under the last message; the buttons shown were "
            f"{[title for title, _, _ in buttons]}"
        )
        kind, payload = found[-1]
        assert kind in ("oa.query.show", "oa.query.hide"), (
            f"button {label!r} is {kind}: tapping it sends the OA nothing"
        )
        return self.text_event(user_id, payload, at=at)

    async def deliver(
        self,
        event: dict[str, Any] | bytes | str,
        *,
        url: str | None = None,
        signature: str | None = None,
        secret: str | None = None,
    ) -> tuple[int, str]:
        """POST an event to the webhook, signed with the OA secret key (or `secret`); a given
        `signature` is sent instead, and signature="" sends no signature header."""
        assert self._client is not None, "start() the fake first"
        target = url or self.webhook_url
        assert target, "set fake.webhook_url first"
        if isinstance(event, dict):
            event = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        body = event.encode() if isinstance(event, str) else event
        headers = {"Content-Type": "application/json"}
        if signature is None:
            app_id, timestamp = _signed_fields(body, self.app_id)
            signature = sign(body, app_id, timestamp, self.oa_secret if secret is None else secret)
        if signature:
            headers["X-ZEvent-Signature"] = signature
        async with self._client.post(target, data=body, headers=headers) as response:
            return response.status, await response.text()

    # -- the OA API -----------------------------------------------------------------------

    def _record(self, kind: str, request: web.Request, params: dict[str, Any]) -> Call:
        call = Call(
            kind,
            request.path,
            params,
            access_token=request.headers.get("access_token"),
            secret_key=request.headers.get("secret_key"),
        )
        if self.record:
            self.calls.append(call)
            self._changed.set()
        return call

    def _finish(self, call: Call, answer: dict[str, Any], status: int = 200) -> web.Response:
        error = answer.get("error", 0)
        call.status = status
        call.error = None if error is None else int(error)
        call.result = answer.get("data") if isinstance(answer.get("data"), dict) else answer
        self._changed.set()
        if status != 200:
            return web.Response(status=status, text=f"HTTP {status} from the fake Zalo")
        return web.json_response(answer)

    async def _answer(
        self, kind: str, request: web.Request, params: dict[str, Any]
    ) -> web.Response:
        """Record the call, then answer it: a queued failure, or the kind's handler."""
        call = self._record(kind, request, params)
        failures = self.failures.get(kind)
        failure = failures.pop(0) if failures else self.chaos(kind) if self.chaos else None
        if failure is not None:
            if failure.hang:
                await asyncio.sleep(failure.hang)
            if failure.status != 200:
                return self._finish(call, {"error": None}, failure.status)
            answer: dict[str, Any] = {"error": failure.error, "message": failure.message}
            if kind == "token":
                answer.update(error_name=failure.message, error_reason=failure.message)
            return self._finish(call, answer)
        try:
            if kind == "token":
                data = await self._m_token(params, call.secret_key)
                return self._finish(call, data)
            if kind != "permission" and call.access_token != self.access_token:
                raise ZaloError(-216, "Access token is invalid")
            handler = getattr(self, f"_m_{kind}")
            data = await handler(params)
        except ZaloError as error:
            return self._finish(
                call, {"error": error.error, "message": error.message, **error.extra}
            )
        return self._finish(call, {"error": 0, "message": "Success", "data": data})

    async def _cs(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        params = body if isinstance(body, dict) else {}
        return await self._answer("cs", request, params)

    async def _promotion(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        return await self._answer("promotion", request, body if isinstance(body, dict) else {})

    async def _upload_image(self, request: web.Request) -> web.Response:
        return await self._answer("upload_image", request, await _form(request))

    async def _upload_file(self, request: web.Request) -> web.Response:
        return await self._answer("upload_file", request, await _form(request))

    async def _getoa(self, request: web.Request) -> web.Response:
        return await self._answer("getoa", request, dict(request.query))

    async def _token(self, request: web.Request) -> web.Response:
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        return await self._answer("token", request, params)

    async def _permission(self, request: web.Request) -> web.Response:
        """The consent page, agreed to at once: redirects to redirect_uri with a new code
        registered for the request's code_challenge, and the OA id."""
        params = dict(request.query)
        call = self._record("permission", request, params)
        if params.get("app_id") != self.app_id or not params.get("redirect_uri"):
            return self._finish(call, {"error": -14002, "message": "Invalid appId"})
        code = f"zalo-code-{secrets.token_hex(6)}"
        self.authorization_code(code, params.get("code_challenge", ""))
        self._finish(call, {"error": 0, "data": {"code": code}})
        separator = "&" if "?" in params["redirect_uri"] else "?"
        location = f"{params['redirect_uri']}{separator}code={code}&oa_id={self.oa_id}"
        raise web.HTTPFound(location)

    async def _m_cs(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = _recipient(params)
        message = params.get("message")
        if not user_id:
            raise ZaloError(-201, "user_id is invalid!")
        if not isinstance(message, dict) or not message:
            raise ZaloError(-201, "message is invalid!")
        if len(text_of(message)) > TEXT_LIMIT or len(buttons_of(message)) > BUTTON_LIMIT:
            raise ZaloError(-210, "Parameter exceeds allowable limit")
        self._check_attachment(message)
        if user_id in self.unfollowers:
            raise ZaloError(-213, "User has not followed OA")
        if user_id in self.inactives:
            raise ZaloError(-230, "User has not interacted with the OA in the past 7 days")
        if self.on_send is not None:
            self.on_send(user_id, message)
        return {
            "message_id": secrets.token_hex(10),
            "user_id": user_id,
            "sent_time": _now_ms(),
            "quota": {"quota_type": "reply", "remain": "8", "total": "8"},
        }

    async def _m_getoa(self, params: dict[str, Any]) -> dict[str, Any]:
        """The OA's profile (GET /v2.0/oa/getoa with the access token)."""
        return {
            "oa_id": self.oa_id,
            "name": "Công đoàn Test",
            "description": "Official Account của Công đoàn",
            "avatar": f"{self.url}/files/avatar.jpg",
            "cover": f"{self.url}/files/cover.jpg",
            "is_verified": True,
            "num_follower": 1234,
        }

    async def _m_promotion(self, params: dict[str, Any]) -> dict[str, Any]:
        """A promotion message: a "promotion" template to a follower, in the promotional
        hours (-234 at night), within their quota per day and per month (-211)."""
        user_id = _recipient(params)
        message = params.get("message")
        if not user_id or not isinstance(message, dict):
            raise ZaloError(-201, "recipient or message is invalid!")
        _check_promotion(message)
        self._check_attachment(message)
        if user_id in self.unfollowers:
            raise ZaloError(-213, "User has not followed OA")
        local = self.clock().astimezone(LOCAL)
        start, end = PROMOTION_HOURS
        if not start <= local.time() < end:
            raise ZaloError(-234, "Promotion message is not allowed at this time")
        days = self.promoted.setdefault(user_id, [])
        month = [d for d in days if (d.year, d.month) == (local.year, local.month)]
        today = [d for d in month if d == local.date()]
        if len(month) >= self.promotion_per_month or len(today) >= PROMOTION_PER_DAY:
            raise ZaloError(-211, "User has reached the quota of promotion messages")
        days.append(local.date())
        if self.on_send is not None:
            self.on_send(user_id, message)
        return {"message_id": secrets.token_hex(10), "user_id": user_id}

    def _check_attachment(self, message: dict[str, Any]) -> None:
        """An attachment_id or file token must be one this fake handed out."""
        attachment = message.get("attachment") or {}
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "file" and payload.get("token") not in self.uploads:
            raise ZaloError(-201, "token is invalid!")
        for element in payload.get("elements") or []:
            if "attachment_id" in element and element["attachment_id"] not in self.uploads:
                raise ZaloError(-201, "attachment_id is invalid!")

    async def _m_upload_image(self, params: dict[str, Any]) -> dict[str, Any]:
        content = _upload(params, IMAGE_LIMIT)
        attachment_id = secrets.token_urlsafe(24)
        self.uploads[attachment_id] = content
        return {"attachment_id": attachment_id}

    async def _m_upload_file(self, params: dict[str, Any]) -> dict[str, Any]:
        content = _upload(params, FILE_LIMIT)
        token = secrets.token_urlsafe(48)
        self.uploads[token] = content
        return {"token": token}

    async def _m_token(self, params: dict[str, Any], secret_key: str | None) -> dict[str, Any]:
        """The OAuth v4 exchange: a refresh token (single use) or a code with its verifier."""
        if self.delay_token_seconds:
            await asyncio.sleep(self.delay_token_seconds)
        if secret_key != self.app_secret:
            raise ZaloError(-14001, "invalid secret", error_reason="invalid secret")
        if params.get("app_id") != self.app_id:
            raise ZaloError(-14002, "Invalid appId", error_reason="Invalid appId")
        grant = params.get("grant_type")
        if grant == "refresh_token":
            if not params.get("refresh_token") or params["refresh_token"] != self.refresh_token:
                raise _invalid_grant("Invalid refresh token")
        elif grant == "authorization_code":
            challenge = self.codes.pop(str(params.get("code")), None)
            if challenge is None:
                raise _invalid_grant("Invalid authorization code")
            if pkce_challenge(str(params.get("code_verifier", ""))) != challenge:
                raise _invalid_grant("Invalid code verifier")
        else:
            raise _invalid_grant(f"Invalid grant_type {grant!r}")
        number = next(self._token_numbers)
        self.access_token = f"zalo-access-{number}"
        self.refresh_token = f"zalo-refresh-{number}"
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": "90000",
        }


def _check_promotion(message: dict[str, Any]) -> None:
    """A promotion template as Zalo takes it: known elements, a header that fits, buttons."""
    attachment = message.get("attachment") or {}
    payload = attachment.get("payload") or {}
    elements = payload.get("elements")
    if attachment.get("type") != "template" or payload.get("template_type") != "promotion":
        raise ZaloError(-201, "template_type is invalid!")
    if not isinstance(elements, list) or not elements:
        raise ZaloError(-201, "elements is invalid!")
    for element in elements:
        if not isinstance(element, dict) or element.get("type") not in ELEMENT_TYPES:
            raise ZaloError(-201, "element is invalid!")
        if element["type"] in ("header", "text") and not element.get("content"):
            raise ZaloError(-201, "element content is empty!")
        limit = HEADER_LIMIT if element["type"] == "header" else TEXT_LIMIT
        if len(str(element.get("content", ""))) > limit:
            raise ZaloError(-210, "Parameter exceeds allowable limit")
    if len(buttons_of(message)) > BUTTON_LIMIT or payload.get("language") not in ("VI", "EN"):
        raise ZaloError(-210, "Parameter exceeds allowable limit")


def _invalid_grant(reason: str) -> ZaloError:
    return ZaloError(-14014, reason, error_name="invalid_grant", error_reason=reason)


def _recipient(params: dict[str, Any]) -> str:
    recipient = params.get("recipient")
    return str(recipient.get("user_id") or "") if isinstance(recipient, dict) else ""


def _signed_fields(body: bytes, default_app_id: str) -> tuple[str, str]:
    """The app_id and timestamp a signature covers, read from the body as the bot will."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return default_app_id, ""
    if not isinstance(parsed, dict):
        return default_app_id, ""
    return str(parsed.get("app_id", default_app_id)), str(parsed.get("timestamp", ""))


async def _form(request: web.Request) -> dict[str, Any]:
    """A multipart upload: the `file` field's bytes and name, and any other fields."""
    params: dict[str, Any] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[key] = value.file.read()
            params[f"{key}.filename"] = value.filename
            params[f"{key}.content_type"] = value.content_type
        else:
            params[key] = value
    return params


def _upload(params: dict[str, Any], limit: int) -> bytes:
    content = params.get("file")
    if not isinstance(content, bytes) or not content:
        raise ZaloError(-201, "file is invalid!")
    if len(content) > limit:
        raise ZaloError(-210, "Parameter exceeds allowable limit")
    return content


@dataclass
class ZaloUser:
    """A person in the Zalo app, as the bot sees them through the fake: each step is a signed
    webhook event, then waits until the bot has sent `replies` more messages in all.

        lan = ZaloUser(fake, "2468458835296197922")
        await lan.say("xin chào")
        await lan.press("Gia nhập công đoàn")           # an oa.query button, by its title
        await lan.send(fake.image_event(lan.user_id, fake.add_file(jpeg, "the.jpg")))
    """

    fake: FakeZalo
    user_id: str

    async def say(self, text: str, replies: int = 1) -> None:
        await self.send(self.fake.text_event(self.user_id, text), replies)

    async def press(self, label: str, replies: int = 1) -> None:
        await self.send(self.fake.tap_event(self.user_id, label), replies)

    async def send(self, event: dict[str, Any], replies: int = 1) -> None:
        expected = len(self.fake.sent()) + replies
        status, text = await self.fake.deliver(event)
        assert status == 200, f"the webhook answered {status}: {text}"
        if replies:
            await self.fake.wait_for("cs", expected, succeeded=True)
