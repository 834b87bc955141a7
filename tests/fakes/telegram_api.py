"""A fake Telegram Bot API server (aiohttp) that python-telegram-bot talks to via base_url.

It answers the methods the bot uses, records every call, serves updates by getUpdates (long
polling with offsets, as Telegram does) and delivers them by webhook POST with the secret
header. Tests and benchmarks drive the real python-telegram-bot Application through it.

    fake = FakeTelegram(token="123:ABC")
    await fake.start()                       # fake.api_base -> "http://127.0.0.1:PORT/bot"
    fake.feed(fake.text_update(42, "/start"))        # for getUpdates
    file_id = fake.add_file(b"...jpeg bytes...")     # served by getFile and /file/bot…
    await fake.deliver(fake.text_update(42, "hi"))   # POST to the registered webhook
    await fake.wait_for("sendMessage", 2)

TelegramUser (at the end) is a person in the Telegram app: it types, presses a button by its
label and waits for the bot's reply, so a dialogue over HTTP reads like one with `Talk`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Công đoàn Bot",
    "username": "CongDoanTestBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass(slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Failure:
    """How one call fails: an error answer (`status`, `description`, `retry_after`); with
    `hang`, that answer comes only after so many seconds (past the bot's timeout, nobody
    reads it), the call done first when `delivered`; with `reset`, the connection is closed
    without an answer."""

    status: int
    description: str
    retry_after: int | None = None
    hang: float = 0.0
    delivered: bool = False
    reset: bool = False


def hung(seconds: float, *, delivered: bool = False) -> Failure:
    """A call that gets no answer for `seconds` (a timeout for the bot); the message still
    reaches the chat when `delivered`, as when Telegram did it but the answer was lost."""
    return Failure(504, "Gateway Timeout", hang=seconds, delivered=delivered)


def reset() -> Failure:
    """A call whose connection is closed before any answer (a reset, for the bot)."""
    return Failure(0, "", reset=True)


def _decode(value: str) -> Any:
    """PTB sends nested objects (reply_markup, allowed_updates) as JSON strings."""
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token", *, record: bool = True) -> None:
        self.token = token
        self.record = record
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        # What getWebhookInfo reports of Telegram's last failed delivery to the webhook.
        self.webhook_last_error: str | None = None
        self.get_updates_offsets: list[int | None] = []
        self.failures: dict[str, list[Failure]] = {}
        self.on_send: Callable[[str, dict[str, Any]], None] | None = None
        # Chats whose person blocked the bot: sendMessage to them is refused with 403.
        self.blocked: set[str] = set()
        # Each call, a failure or None (the benchmark's random 429s and 5xx).
        self.chaos: Callable[[str], Failure | None] | None = None
        # (chat_id, text) of every sendMessage that succeeded, in order.
        self.messages: list[tuple[str, str]] = []
        # (chat_id, content, caption) of every sendPhoto that succeeded, in order.
        self.photos: list[tuple[str, bytes, str]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._closing = False
        self._client: aiohttp.ClientSession | None = None
        self.url = ""
        # file_id -> (file_path, content), served by getFile and the file endpoint.
        self.files: dict[str, tuple[str, bytes]] = {}
        self.downloads: list[str] = []

    # -- server ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)  # photos: 10 MB
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, port)
        await self._site.start()
        sockets = self._runner.addresses
        self.url = f"http://{host}:{sockets[0][1]}"
        self._client = aiohttp.ClientSession()

    async def refuse(self) -> None:
        """Stop listening and close the open connections: calls are refused (the API's
        host down) until `listen`."""
        assert self._runner is not None and self._site is not None
        await self._site.stop()
        for connection in self._runner.server.connections if self._runner.server else []:
            connection.close()

    async def listen(self) -> None:
        """Take calls again, on the same address, after `refuse`."""
        assert self._runner is not None
        host, port = self.url.removeprefix("http://").split(":")
        self._site = web.TCPSite(self._runner, host, int(port))
        await self._site.start()

    async def stop(self) -> None:
        # End long polls now, or the server's shutdown waits for their timeout.
        self._closing = True
        self._new_update.set()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        """What TELEGRAM_API_BASE (PTB's base_url) must be: the token is appended to it."""
        return f"{self.url}/bot"

    # -- recorded calls -------------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def sent(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """The sendMessage calls, optionally to one chat."""
        return [
            p for p in self.calls_to("sendMessage")
            if chat_id is None or str(p.get("chat_id")) == str(chat_id)
        ]  # fmt: skip

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `method` was called at least `count` times in all."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{method} called {len(self.calls_to(method))} times, expected {count}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def member_update(self, user_id: int, status: str) -> dict[str, Any]:
        """The person blocked ("kicked") or unblocked ("member") the bot in their chat."""
        user = self._user(user_id)
        return {
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]},
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"user": BOT_USER, "status": "member"},
                "new_chat_member": {"user": BOT_USER, "status": status,
                                    **({"until_date": 0} if status == "kicked" else {})},
            },
        }  # fmt: skip

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None):
        """Make the next call of `method` fail as Telegram would."""
        self.failures.setdefault(method, []).append(Failure(status, description, retry_after))

    # -- files ----------------------------------------------------------------------------

    def add_file(self, content: bytes, suffix: str = "jpg") -> str:
        """Make a file downloadable; returns its file_id."""
        number = len(self.files) + 1
        file_id = f"FILE{number:04d}-{len(content)}"
        self.files[file_id] = (f"documents/file_{number}.{suffix}", content)
        return file_id

    def photo_update(self, user_id: int, file_id: str, **kwargs: Any) -> dict[str, Any]:
        """A photo message: Telegram sends several sizes, smallest first."""
        size = len(self.files[file_id][1]) if file_id in self.files else 1000
        sizes = [
            {"file_id": f"{file_id}-thumb", "file_unique_id": "t", "width": 90, "height": 90},
            {"file_id": file_id, "file_unique_id": "u" + file_id, "width": 1280,
             "height": 960, "file_size": size},
        ]  # fmt: skip
        return self.message_update(user_id, {"photo": sizes, **kwargs})

    def document_update(
        self, user_id: int, file_id: str, mime: str, name: str = "giay-to.pdf", **kwargs: Any
    ) -> dict[str, Any]:
        size = kwargs.pop("file_size", len(self.files.get(file_id, ("", b""))[1]))
        document = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": name,
                    "mime_type": mime, "file_size": size}  # fmt: skip
        return self.message_update(user_id, {"document": document, **kwargs})

    def voice_update(self, user_id: int, file_id: str) -> dict[str, Any]:
        voice = {"file_id": file_id, "file_unique_id": "u" + file_id, "duration": 4,
                 "mime_type": "audio/ogg", "file_size": len(self.files[file_id][1])}  # fmt: skip
        return self.message_update(user_id, {"voice": voice})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        self.downloads.append(path)
        for file_path, content in self.files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return _error(404, "Not Found")

    # -- updates --------------------------------------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def text_update(
        self, user_id: int, text: str, *, chat_type: str = "private", chat_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "update_id": self.next_update_id(),
            "message": self._message(user_id, chat_type, chat_id, {"text": text}),
        }

    def message_update(self, user_id: int, extra: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A message with other content (sticker, photo…): `extra` is merged in."""
        return {
            "update_id": self.next_update_id(),
            "message": self._message(
                user_id, kwargs.get("chat_type", "private"), kwargs.get("chat_id"), extra
            ),
        }

    def button_update(self, user_id: int, data: str, chat_id: int | None = None) -> dict[str, Any]:
        """A button press, in the user's private chat or (chat_id < 0) in a group."""
        chat: dict[str, Any] = {"id": chat_id or user_id, "type": "private", "first_name": "Lan"}
        if chat_id is not None and chat_id < 0:
            chat = {"id": chat_id, "type": "supergroup", "title": "Cán bộ"}
        return {
            "update_id": self.next_update_id(),
            "callback_query": {
                "id": f"cq{next(self._query_ids)}",
                "from": self._user(user_id),
                "chat_instance": f"ci{user_id}",
                "data": data,
                "message": {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": chat,
                    "from": BOT_USER,
                    "text": "menu",
                },
            },
        }

    def press_update(self, user_id: int, label: str, chat_id: int | None = None) -> dict[str, Any]:
        """A press of the button labelled `label` under the last message sent to the chat,
        as the person would make it in the Telegram app."""
        sent = self.sent(chat_id or user_id)
        rows = sent[-1].get("reply_markup", {}).get("inline_keyboard", []) if sent else []
        found = [b["callback_data"] for row in rows for b in row if b["text"] == label]
        assert found, (
            f"no button {label!r} under the last message; the buttons shown were "
            f"{[[b['text'] for b in row] for row in rows]}"
        )
        return self.button_update(user_id, found[-1], chat_id)

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"}

    def _message(
        self, user_id: int, chat_type: str, chat_id: int | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id or user_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Lan"
        else:
            chat["title"] = "Nhóm"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id),
            **extra,
        }

    def feed(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self.updates.append(update)
        self._new_update.set()

    async def deliver(
        self,
        update: dict[str, Any] | bytes | str,
        *,
        secret: str | None = None,
        url: str | None = None,
    ) -> tuple[int, str]:
        """POST an update to the webhook, with the registered secret unless one is given."""
        assert self._client is not None
        target = url or self.webhook_url
        assert target, "no webhook registered"
        headers = {"Content-Type": "application/json"}
        token = self.webhook_secret if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        body = update if isinstance(update, bytes | str) else json.dumps(update)
        async with self._client.post(target, data=body, headers=headers) as response:
            return response.status, await response.text()

    # -- the Bot API ----------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):  # an upload (sendPhoto): its bytes
                        value = value.file.read()
                    params[key] = _decode(value) if isinstance(value, str) else value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates" and self.record:
            self.calls.append(Call(method, params))
            self._changed.set()
        failures = self.failures.get(method)
        failure = failures.pop(0) if failures else self.chaos(method) if self.chaos else None
        if failure is not None:
            return await self._fail(request, method, params, failure)
        return await self._answer(method, params)

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params)
        except ApiError as error:
            return _error(error.status, error.description)
        return web.json_response({"ok": True, "result": result})

    async def _fail(
        self, request: web.Request, method: str, params: dict[str, Any], failure: Failure
    ) -> web.Response:
        if failure.reset:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never written: the connection is gone
        if failure.delivered:
            await self._answer(method, params)
        if failure.hang:
            await asyncio.sleep(failure.hang)
        extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after else {}
        return _error(failure.status, failure.description, **extra)

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = params.get("url") or None
        self.webhook_secret = params.get("secret_token") or None
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        """As Telegram answers: the URL ("" for none), never the secret; updates waiting (for
        getUpdates here); the last delivery error, when there was one."""
        info: dict[str, Any] = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook_url:
            info["max_connections"] = 40
        if self.webhook_last_error:
            info["last_error_date"] = int(time.time()) - 60
            info["last_error_message"] = self.webhook_last_error
        return info

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = None
        self.webhook_secret = None
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": "u" + file_id,
                "file_size": len(content), "file_path": path}  # fmt: skip

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if str(chat_id) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self.messages.append((str(chat_id), str(params.get("text", ""))))
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        if self.on_send is not None:
            self.on_send(str(chat_id), params)
        return message

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        """A photo uploaded (multipart: its bytes) or sent again by a file_id it was given;
        recorded in `photos` as (chat_id, content, caption)."""
        chat_id = int(params["chat_id"])
        if str(chat_id) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        photo = params.get("photo")
        if isinstance(photo, (bytes, bytearray)):
            file_id = self.add_file(bytes(photo))
        elif isinstance(photo, str) and photo in self.files:
            file_id = photo
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = str(params.get("caption", ""))
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        content = self.files[file_id][1]
        self.photos.append((str(chat_id), content, caption))
        sizes = [{"file_id": file_id, "file_unique_id": "u" + file_id, "width": 1,
                  "height": 1, "file_size": len(content)}]  # fmt: skip
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "photo": sizes,
        }
        if caption:
            message["caption"] = caption
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        if self.on_send is not None:
            self.on_send(str(chat_id), params)
        return message

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params["offset"]) if params.get("offset") not in (None, "") else None
        timeout = float(params.get("timeout") or 0)
        if self.record:
            self.get_updates_offsets.append(offset)
            self.calls.append(Call("getUpdates", params))
            self._changed.set()
        if offset is not None:
            # As Telegram does: asking from `offset` confirms every update before it.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.updates and not self._closing and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]


class ApiError(Exception):
    """An error answer from a fake method, as Telegram would give it."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description, **extra}, status=status
    )


@dataclass
class TelegramUser:
    """A person in the Telegram app, as the bot sees them through the fake: each step is
    delivered by webhook, then waits until the bot has sent `replies` more messages in all.

        lan = TelegramUser(fake, 504)
        await lan.say("/start")
        await lan.press("Gia nhập công đoàn")           # a button under the last message
        await lan.send(fake.photo_update(504, file_id))  # any other update
    """

    fake: FakeTelegram
    user_id: int

    async def say(self, text: str, replies: int = 1) -> None:
        await self.send(self.fake.text_update(self.user_id, text), replies)

    async def press(self, label: str, replies: int = 1) -> None:
        await self.send(self.fake.press_update(self.user_id, label), replies)

    async def send(self, update: dict[str, Any], replies: int = 1) -> None:
        expected = len(self.fake.calls_to("sendMessage")) + replies
        await self.fake.deliver(update)
        await self.fake.wait_for("sendMessage", expected)
