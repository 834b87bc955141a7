"""The web chat at /chat: the real app over HTTP, a browser's requests, on both databases."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData, select

from bot import outbox
from bot.app import WEBCHAT, create_app
from bot.channels import webchat
from bot.channels.base import FetchError
from bot.channels.terminal import TerminalChannel
from bot.channels.webchat import COOKIE, MAX_BODY_BYTES, WebChatChannel, to_update
from bot.config import Settings
from handlers.types import Address, Button, Outgoing
from storage.models import Case, InboxItem, Person
from tests.fakes.webchat import Visitor
from tests.fixtures.running_bot import RunningBot, serve
from tests.scenarios import MENU_LABELS, MENU_PAYLOADS, file_report, to_anonymity
from tests.support import count

GREETING = "Xin chào! Mình là trợ lý tự động của Công đoàn"
STATIC = resources.files("bot").joinpath("web", "static")
# What the database knows a visitor by: a keyed hash of their cookie's id.
VISITOR = "a" * 64


class WebApp(RunningBot):
    """The app serving HTTP, with its web chat channel at hand."""

    @property
    def chat(self) -> WebChatChannel:
        return self.app[WEBCHAT]


@pytest.fixture
async def start_web(settings: Settings) -> AsyncIterator[Any]:
    """start_web() -> WebApp: the app serving HTTP (no messenger configured), stopped after
    the test. Polls that find nothing answer after a moment instead of 20 s."""
    running: list[WebApp] = []

    async def start(poll_seconds: float = 0.2) -> WebApp:
        served = await serve(create_app(settings))
        running.append(WebApp(served.app, served.runner, served.url))
        running[-1].chat.poll_seconds = poll_seconds
        return running[-1]

    yield start
    for app in running:
        await app.stop()


@pytest.fixture
async def browsers() -> AsyncIterator[Any]:
    """browser(url) -> a Visitor with its own cookies, closed after the test."""
    opened: list[aiohttp.ClientSession] = []

    async def browser(url: str) -> Visitor:
        # unsafe: keep cookies for an IP address host (127.0.0.1).
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(http)
        return Visitor(http, url)

    yield browser
    for http in opened:
        await http.close()


async def started(start_web: Any, browsers: Any) -> tuple[WebApp, Visitor]:
    web_app = await start_web()
    visitor = await browsers(web_app.url)
    assert (await visitor.open()).status == 200
    return web_app, visitor


def keyboard(message: dict[str, Any]) -> list[list[tuple[str, str]]]:
    return [[(b["label"], b["payload"]) for b in row] for row in message["buttons"]]


async def test_the_page_sets_a_private_visitor_cookie(start_web, browsers):
    web_app = await start_web()
    visitor = await browsers(web_app.url)
    response = await visitor.open()
    assert response.content_type == "text/html"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/chat"
    assert not cookie["secure"]
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    first = visitor.cookie
    # A random id and its signature: only ids this server made are accepted.
    assert first is not None and re.fullmatch(r"[A-Za-z0-9_-]{32}\.[0-9a-f]{32}", first)

    await visitor.open()
    assert visitor.cookie == first  # the same visitor when the page is opened again

    async with visitor.http.get(
        f"{web_app.url}/chat", headers={"X-Forwarded-Proto": "https"}
    ) as behind_tls:
        assert behind_tls.cookies[COOKIE]["secure"] is True


async def test_the_page_and_its_assets_are_served_without_outside_links(start_web, browsers):
    web_app = await start_web()
    visitor = await browsers(web_app.url)
    async with visitor.http.get(f"{web_app.url}/chat") as response:
        page = await response.text()
    assert "<title>Trợ lý Công đoàn</title>" in page
    assert '<html lang="vi">' in page
    assert 'name="viewport"' in page
    for asset, kind in (("chat.js", "text/javascript"), ("chat.css", "text/css")):
        assert f'"chat/{asset}"' in page
        async with visitor.http.get(f"{web_app.url}/chat/{asset}") as response:
            assert response.status == 200
            assert response.content_type == kind
            assert await response.read() == STATIC.joinpath(asset).read_bytes()
            etag = response.headers["ETag"]
        async with visitor.http.get(
            f"{web_app.url}/chat/{asset}", headers={"If-None-Match": etag}
        ) as cached:
            assert cached.status == 304
    for name in ("chat.html", "chat.js", "chat.css"):
        text = STATIC.joinpath(name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    async with visitor.http.get(f"{web_app.url}/chat/views.py") as response:
        assert response.status == 404


def test_the_script_shows_text_as_text_only():
    script = STATIC.joinpath("chat.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert "textContent" in script


async def test_start_greets_with_the_main_menu(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)
    async with visitor.http.post(
        f"{web_app.url}/chat/send", json={"id": str(uuid.uuid4()), "text": "/start"}
    ) as response:
        assert response.status == 202
        assert await response.json() == {"ok": True}
    await web_app.runtime.settle()

    [greeting] = await visitor.poll()
    assert greeting["text"].startswith(GREETING)
    assert [[p for _, p in row] for row in keyboard(greeting)] == MENU_PAYLOADS
    assert [[label for label, _ in row] for row in keyboard(greeting)] == MENU_LABELS


async def test_pressing_a_menu_button_goes_on_with_the_report(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)
    await visitor.say("/start")
    await web_app.runtime.settle()
    await visitor.poll()

    assert await visitor.press("Gửi phản ánh") == 202
    await web_app.runtime.settle()
    [question] = await visitor.poll()
    assert question["text"] == "Bạn muốn phản ánh về việc gì?"
    assert ("Nợ lương, chậm lương", "f:grievance:category:wages") in keyboard(question)[0]

    assert await visitor.press("Nợ lương, chậm lương") == 202
    await web_app.runtime.settle()
    [next_step] = await visitor.poll()
    assert next_step["id"] > question["id"]
    assert next_step["text"] != question["text"]


async def test_markup_comes_back_as_plain_text_in_json(start_web, browsers, sessions):
    web_app, visitor = await started(start_web, browsers)
    script = "<script>alert(1)</script>"
    await visitor.say("/start")
    assert await visitor.say(script) == 202
    await web_app.runtime.settle()
    assert len(await visitor.poll()) == 2  # the greeting and an answer to the odd text

    # An officer's reply is copied to the worker word for word (as the dashboard does it).
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
        reply = Outgoing(Address("web", person.channel_user_id, person.id), script)
        deliveries = await outbox.write(
            session, [reply], web_app.runtime.services.clock(), web_app.runtime.services.vault
        )
        await session.commit()
    web_app.runtime.sender.queue(deliveries)
    async with visitor.http.get(
        f"{web_app.url}/chat/messages", params={"after": visitor.after}
    ) as response:
        raw = await response.text()
        assert response.content_type == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(raw) == [{"id": deliveries[0].id, "text": script, "buttons": []}]
    assert script in raw  # not escaped into entities: the page sets it as text


MESSAGE_ID = "6f1c3a52-8d0e-4b7a-9c21-0a5e7b3d4f60"
BAD_BODIES: list[object] = [
    [],
    "text",
    {},
    {"id": MESSAGE_ID},
    {"text": "hi"},
    {"id": "not-a-uuid", "text": "hi"},
    {"id": 12, "text": "hi"},
    {"id": "6f1c3a52-8d0e-4b7a-9c21-0a5e7b3d4f6g", "text": "hi"},
    {"id": MESSAGE_ID, "text": "hi", "button": "faq:home"},
    {"id": MESSAGE_ID, "text": 5},
    {"id": MESSAGE_ID, "text": None},
    {"id": MESSAGE_ID, "text": "   "},
    {"id": MESSAGE_ID, "text": "\x00"},
    {"id": MESSAGE_ID, "button": ["faq:home"]},
    {"id": MESSAGE_ID, "button": ""},
    {"id": MESSAGE_ID, "text": "hi", "extra": 1},
    {"id": MESSAGE_ID, "text": "\ud800"},  # a lone surrogate: no database can store it
]


async def test_malformed_requests_are_refused_and_store_nothing(start_web, browsers, sessions):
    web_app, visitor = await started(start_web, browsers)
    send = f"{web_app.url}/chat/send"
    statuses: list[int] = []
    for body in (b"not json", b"\xff\xfe\x00", b'{"id": "x", "text": ', b"\x00"):
        async with visitor.http.post(
            send, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            statuses.append(response.status)
    for body in BAD_BODIES:
        async with visitor.http.post(
            send, data=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as response:
            statuses.append(response.status)
            assert (await response.json())["ok"] is False
    assert statuses == [400] * len(statuses)

    good = json.dumps({"id": str(uuid.uuid4()), "text": "/start"})
    # A cross-site form can send these content types without a preflight: refused.
    for kind in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        async with visitor.http.post(send, data=good, headers={"Content-Type": kind}) as response:
            assert response.status == 400
    # No cookie: the page was never opened.
    async with aiohttp.ClientSession() as stranger:
        async with stranger.post(send, json=json.loads(good)) as response:
            assert response.status == 400
        async with stranger.get(f"{web_app.url}/chat/messages") as response:
            assert response.status == 400
        forged = {"Cookie": f"{COOKIE}=short"}
        async with stranger.post(send, json=json.loads(good), headers=forged) as response:
            assert response.status == 400
    # Over 16 KB, with a declared length or streamed in chunks.
    huge = json.dumps({"id": str(uuid.uuid4()), "text": "x" * MAX_BODY_BYTES})
    async with visitor.http.post(
        send, data=huge, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": "' + str(uuid.uuid4()).encode() + b'", "text": "'
        for _ in range(40):
            yield b"y" * 1024
        yield b'"}'

    async with visitor.http.post(
        send, data=chunks(), headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 413
    for after in ("-1", "abc", "1e3", "9" * 30):
        async with visitor.http.get(
            f"{web_app.url}/chat/messages", params={"after": after}
        ) as response:
            assert response.status == 400

    await web_app.runtime.settle()
    assert await count(sessions, InboxItem) == 0
    assert await count(sessions, Person) == 0


async def test_long_text_is_left_to_the_dispatcher_to_refuse(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)
    await visitor.say("/start")
    # 4097 three-byte letters still fit in a request; the bot answers politely.
    assert await visitor.say("ệ" * 4097) == 202
    await web_app.runtime.settle()
    replies = await visitor.poll()
    assert replies[-1]["text"].startswith("Tin nhắn của bạn dài quá (hơn 4096 ký tự)")


async def test_a_resent_message_is_stored_once(start_web, browsers, sessions):
    web_app, visitor = await started(start_web, browsers)
    message_id = str(uuid.uuid4())
    for _ in range(3):
        assert await visitor.say("/start", message_id) == 202
    # The same id in capitals is the same message.
    assert await visitor.say("/start", message_id.upper()) == 202
    await web_app.runtime.settle()
    assert await count(sessions, InboxItem) == 1
    assert len(await visitor.poll()) == 1
    async with sessions() as session:
        stored = (await session.scalars(select(InboxItem))).one()
    # The inbox keeps no visitor id once processed: only a hash for deduplication.
    assert visitor.cookie not in stored.external_id
    assert stored.payload is None


async def test_a_visitor_sees_only_their_own_replies(start_web, browsers):
    web_app = await start_web()
    first, second = await browsers(web_app.url), await browsers(web_app.url)
    await first.open()
    await second.open()
    assert first.cookie != second.cookie
    await first.say("/start")
    await first.press_payload("lang:choose")  # before reading the greeting
    await web_app.runtime.settle()
    # Before writing anything, the second visitor has no replies at all.
    assert await second.poll(after=0) == []

    await second.say("/help")
    await web_app.runtime.settle()
    mine = {m["id"] for m in await first.poll(after=0)}
    theirs = {m["id"] for m in await second.poll(after=0)}
    assert len(mine) == 2 and theirs
    assert mine.isdisjoint(theirs)


# -- privacy: the visitor id is a secret the database never holds -----------------------------


@dataclass
class WebWorker:
    """A Visitor driven like a Talk (tests/handlers/conftest.py), so the shared scenarios run
    over HTTP: say text or press a button by its label; answered with the new replies."""

    visitor: Visitor
    app: WebApp
    last: list[Outgoing] = field(default_factory=list)

    async def say(self, text: str) -> list[Outgoing]:
        assert await self.visitor.say(text) == 202
        return await self.replies()

    async def press(self, label: str) -> list[Outgoing]:
        assert await self.visitor.press(label) == 202
        return await self.replies()

    async def replies(self) -> list[Outgoing]:
        await self.app.runtime.settle()
        self.last = [
            Outgoing(
                Address("web", "?"),
                m["text"],
                tuple(tuple(Button(b["label"], b["payload"]) for b in row) for row in m["buttons"]),
            )
            for m in await self.visitor.poll()
        ]
        return self.last


async def anonymous_report(worker: WebWorker) -> tuple[str, str]:
    """File an anonymous report from the web chat; its code and PIN."""
    await to_anonymity(worker)
    receipt = " ".join(reply.text for reply in await file_report(worker))
    code = re.search(r"[A-Z]{2}-\d{4}-\d{6}", receipt)
    pin = re.search(r"Mã PIN của bạn: (\d{6})", receipt)
    assert code and pin, receipt
    return code.group(0), pin.group(1)


async def everything_stored(sessions: Any) -> list[tuple[str, str, object]]:
    """Every value of every column of every table, read back as the database holds it."""
    found: list[tuple[str, str, object]] = []
    async with sessions() as session:
        connection = await session.connection()
        metadata = MetaData()
        await connection.run_sync(lambda sync: metadata.reflect(sync))
        assert {"people", "outbox", "inbox", "cases"} <= set(metadata.tables)
        for table in metadata.tables.values():
            for row in (await session.execute(select(table))).mappings():
                found += [(table.name, column, value) for column, value in row.items()]
    return found


def holds(value: object, secret: str) -> bool:
    if isinstance(value, bytes | memoryview):
        return secret.encode() in bytes(value)
    return secret in (value if isinstance(value, str) else json.dumps(value, default=str))


async def test_the_database_never_holds_the_visitor_id(start_web, browsers, sessions, caplog):
    caplog.set_level(logging.INFO)
    web_app, visitor = await started(start_web, browsers)
    cookie = visitor.cookie
    assert cookie is not None
    secret = cookie.split(".")[0]  # the random id, however the cookie dresses it
    worker = WebWorker(visitor, web_app)
    await anonymous_report(worker)
    await worker.say("Cảm ơn")

    stored = await everything_stored(sessions)
    assert [(t, c) for t, c, value in stored if holds(value, secret)] == []
    assert secret not in caplog.text
    # The person and their replies are still found, under the keyed hash.
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
    assert len(person.channel_user_id) == 64
    assert person.channel_user_id not in cookie


async def test_a_stored_value_used_as_a_cookie_gets_nothing(start_web, browsers, sessions):
    web_app, visitor = await started(start_web, browsers)
    await visitor.say("/start")
    await web_app.runtime.settle()
    assert len(await visitor.poll()) == 1
    async with sessions() as session:
        stored = (await session.scalars(select(Person.channel_user_id))).one()

    async with aiohttp.ClientSession() as reader:
        stolen = {"Cookie": f"{COOKIE}={stored}"}
        async with reader.get(
            f"{web_app.url}/chat/messages", params={"after": 0}, headers=stolen
        ) as response:
            assert response.status == 400
        async with reader.post(
            f"{web_app.url}/chat/send",
            json={"id": str(uuid.uuid4()), "text": "/hoso"},
            headers=stolen,
        ) as response:
            assert response.status == 400
        # Opening the page with it starts someone new, with nothing to show.
        async with reader.get(f"{web_app.url}/chat", headers=stolen) as response:
            assert response.status == 200
            fresh = response.cookies[COOKIE].value
        assert fresh != stored
        async with reader.get(
            f"{web_app.url}/chat/messages",
            params={"after": 0},
            headers={"Cookie": f"{COOKIE}={fresh}"},
        ) as response:
            assert await response.json() == []
    await web_app.runtime.settle()
    assert await count(sessions, Person) == 1


async def test_a_made_up_visitor_is_refused_and_opening_the_page_creates_no_one(
    start_web, browsers, sessions
):
    web_app = await start_web()
    async with aiohttp.ClientSession() as forger:
        for n in range(5):
            made_up = {"Cookie": f"{COOKIE}={str(n) * 32}"}
            async with forger.post(
                f"{web_app.url}/chat/send",
                json={"id": str(uuid.uuid4()), "text": "/start"},
                headers=made_up,
            ) as response:
                assert response.status == 400
    for _ in range(3):
        await (await browsers(web_app.url)).open()
    await web_app.runtime.settle()
    assert await count(sessions, InboxItem) == 0
    assert await count(sessions, Person) == 0


async def test_one_address_may_start_only_so_many_visitors_an_hour(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)  # one already started
    # Without a cookie jar for 127.0.0.1, every open starts a new visitor.
    async with aiohttp.ClientSession() as opener:
        for _ in range(webchat.NEW_VISITORS_PER_HOUR - 1):
            async with opener.get(f"{web_app.url}/chat") as response:
                assert response.status == 200
                assert COOKIE in response.cookies
        async with opener.get(f"{web_app.url}/chat") as response:
            assert response.status == 429
            assert COOKIE not in response.cookies
            assert int(response.headers["Retry-After"]) > 0
            page = await response.text()
    # The same page, told to show its "too many" text instead of chatting.
    assert 'data-refused="busy"' in page
    script = STATIC.joinpath("chat.js").read_text(encoding="utf-8")
    assert 'busy: "Có quá nhiều người bắt đầu trò chuyện từ cùng một mạng.' in script
    # A visitor who already has a cookie is not new: they go on.
    assert (await visitor.open()).status == 200
    await visitor.say("/start")
    await web_app.runtime.settle()
    assert len(await visitor.poll()) == 1


def test_new_visitors_are_counted_per_address_for_an_hour():
    counter = webchat.NewVisitors(2)
    assert counter.wait("10.0.0.1", 0.0) == counter.wait("10.0.0.1", 10.0) == 0
    assert counter.wait("10.0.0.1", 20.0) == 3600 - 20
    assert counter.wait("10.0.0.2", 20.0) == 0  # another address has its own count
    assert counter.wait("10.0.0.1", 3600.0) == 0  # the first start has left the hour
    # One IPv6 /64 is one household or phone: its addresses share a count.
    request = make_mocked_request("GET", "/chat")
    for peer, expected in (("2001:db8:1:2::5", "2001:db8:1:2::/64"), ("10.0.0.1", "10.0.0.1")):
        assert webchat.client_address(request.clone(remote=peer)) == expected


async def forget(http: aiohttp.ClientSession, url: str, **headers: str) -> aiohttp.ClientResponse:
    headers.setdefault("Content-Type", "application/json")
    async with http.post(f"{url}/chat/forget", data=b"{}", headers=headers) as response:
        await response.read()
        return response


async def test_forget_this_device_ends_the_session_and_keeps_the_case(
    start_web, browsers, sessions
):
    web_app, visitor = await started(start_web, browsers)
    worker = WebWorker(visitor, web_app)
    code, pin = await anonymous_report(worker)
    cookie = visitor.cookie
    assert cookie is not None

    # Refused, and nothing forgotten: a cross-site form's content types, another site's
    # request, no cookie.
    for kind in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        assert (await forget(visitor.http, web_app.url, **{"Content-Type": kind})).status == 400
    cross = await forget(visitor.http, web_app.url, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403
    async with aiohttp.ClientSession() as stranger:
        assert (await forget(stranger, web_app.url)).status == 400
    assert visitor.cookie == cookie
    assert len(await visitor.poll(after=0)) > 5

    done = await forget(visitor.http, web_app.url, **{"Sec-Fetch-Site": "same-origin"})
    assert done.status == 200
    assert visitor.cookie is None  # the browser was told to drop it
    # Whoever kept a copy of the cookie reads no history and is no longer the worker.
    async with aiohttp.ClientSession() as copy:
        kept = {"Cookie": f"{COOKIE}={cookie}"}
        async with copy.get(
            f"{web_app.url}/chat/messages", params={"after": 0}, headers=kept
        ) as response:
            assert response.status == 200
            assert await response.json() == []
        async with copy.post(
            f"{web_app.url}/chat/send",
            json={"id": str(uuid.uuid4()), "text": "/hoso"},
            headers=kept,
        ) as response:
            assert response.status == 202
        await web_app.runtime.settle()
        async with copy.get(
            f"{web_app.url}/chat/messages", params={"after": 0}, headers=kept
        ) as response:
            [mine] = await response.json()
        assert code not in mine["text"]

    # The case stays with the union; its code and PIN still open it from a new session.
    async with sessions() as session:
        case = (await session.scalars(select(Case).where(Case.code == code))).one()
        assert case.status == "new"
    again = await browsers(web_app.url)
    await again.open()
    assert again.cookie not in (None, cookie)
    [found] = await WebWorker(again, web_app).say(f"/tracuu {code} {pin}")
    assert code in found.text


async def test_a_waiting_poll_is_answered_when_the_reply_is_written(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)
    # Only the wake-up from send() can answer this poll in time: no re-checks, no timeout.
    web_app.chat.poll_seconds = web_app.chat.recheck_seconds = 600
    waiting = asyncio.create_task(visitor.poll())
    await wait_until(lambda: bool(web_app.chat._waiting))
    await visitor.say("/start")
    [greeting] = await asyncio.wait_for(waiting, timeout=30)
    assert greeting["text"].startswith(GREETING)
    assert web_app.chat._waiting == {}


async def test_replies_survive_a_restart(start_web, browsers, sessions):
    web_app, visitor = await started(start_web, browsers)
    await visitor.say("/start")
    await visitor.press_payload("lang:choose")  # before reading the greeting
    await web_app.runtime.settle()
    before = await visitor.poll()
    assert len(before) == 2
    await web_app.stop()

    again = await start_web()
    visitor.url = again.url
    # The page reloaded after the restart: the whole conversation, then what is new.
    assert await visitor.poll(after=0) == before
    assert await visitor.poll() == []
    assert await visitor.press("Tiếng Việt") == 202  # under the replies read before
    await again.runtime.settle()
    [after_restart] = await visitor.poll()
    assert after_restart["id"] > before[-1]["id"]
    assert await count(sessions, Person) == 1


async def test_stopping_the_app_answers_waiting_polls(start_web, browsers):
    web_app, visitor = await started(start_web, browsers)
    web_app.chat.poll_seconds = 600
    waiting = asyncio.create_task(visitor.poll())
    await wait_until(lambda: bool(web_app.chat._waiting))
    # Without the shutdown hook the server would hold its stop for the poll (up to 60 s).
    await asyncio.wait_for(web_app.stop(), timeout=30)
    assert await asyncio.wait_for(waiting, timeout=5) == []


async def test_the_terminal_chat_has_no_web_chat(settings):
    terminal = create_app(settings, terminal=TerminalChannel("lan"))
    assert not any(path.startswith("/chat") for path in _paths(terminal))
    assert any(path.startswith("/chat") for path in _paths(create_app(settings)))


def _paths(app: web.Application) -> set[str]:
    return {route.resource.canonical for route in app.router.routes() if route.resource}


async def test_the_channel_turns_stored_messages_into_incoming():
    channel = WebChatChannel(None, None, str.upper)  # type: ignore[arg-type]
    update = to_update(VISITOR, {"id": str(uuid.uuid4()), "button": "faq:home"})
    assert update is not None
    msg = channel.to_incoming(update.payload)
    assert msg is not None
    assert (msg.channel, msg.user_id, msg.chat_id) == ("web", VISITOR, VISITOR)
    assert (msg.text, msg.payload) == (None, "faq:home")
    assert channel.to_incoming({"visitor": "short", "text": "x"}) is None
    # A raw cookie id (as stored before ids were hashed) is no visitor.
    assert channel.to_incoming({"visitor": "A" * 32, "text": "x"}) is None
    assert channel.to_incoming({"text": "x"}) is None
    with pytest.raises(FetchError) as refused:
        await channel.fetch("anything", 1024)
    assert refused.value.permanent


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    data=JSON
    | st.fixed_dictionaries(
        {"id": st.uuids().map(str) | st.text()}, optional={"text": st.text(), "button": st.text()}
    )
)
def test_any_body_is_an_update_or_refused_never_an_error(data):
    update = to_update(VISITOR, data)
    if update is None:
        return
    assert update.channel == "web"
    assert len(update.external_id) <= 100
    text = json.dumps(update.payload, ensure_ascii=False)
    assert "\\u0000" not in text
    text.encode()  # storable: no lone surrogates


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    """Wait for something another task does (a poll getting to its wait), within `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if condition():
            return
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


# -- in a real browser ----------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_worker_chats_on_a_phone_sized_page(browser, start_web):
    web_app = await start_web(poll_seconds=20.0)
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{web_app.url}/chat")
    assert await page.title() == "Trợ lý Công đoàn"

    await page.click("#start")
    greeting = page.locator(".msg.bot").first
    await greeting.wait_for()
    assert (await greeting.inner_text()).startswith(GREETING)
    await page.click(".msg.bot button:has-text('Gửi phản ánh')")
    await page.locator(".msg.bot", has_text="Bạn muốn phản ánh về việc gì?").wait_for()

    script = "<script>alert(1)</script>"
    await page.fill("#text", script)
    await page.press("#text", "Enter")
    await page.locator(".msg.bot").nth(2).wait_for()
    assert await page.locator(".msg.mine").all_text_contents() == [
        "Bắt đầu",
        "Gửi phản ánh",
        script,
    ]
    assert await page.locator("#log script").count() == 0
    assert dialogs == []

    # Opened again later: the bot's side of the conversation is still there.
    await page.reload()
    await page.locator(".msg.bot").nth(2).wait_for()
    assert await page.locator(".msg.bot").count() == 3
    assert await page.locator("#welcome").is_hidden()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_forget_this_device_in_the_browser(browser, start_web):
    web_app = await start_web(poll_seconds=20.0)
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    asked: list[str] = []

    async def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", confirm)
    await page.goto(f"{web_app.url}/chat")
    await page.click("#start")
    await page.locator(".msg.bot").first.wait_for()

    forget = page.get_by_role("button", name="Quên thiết bị này")
    await forget.click()
    await page.wait_for_load_state()
    await page.locator("#welcome").wait_for()
    assert asked and asked[0].startswith("Quên thiết bị này?")
    assert "/tracuu" in asked[0]
    # Reloaded: a new visitor, nothing of the conversation, and nothing comes back later.
    await page.reload()
    await page.locator("#welcome").wait_for()
    await asyncio.sleep(0.5)
    assert await page.locator(".msg").count() == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_too_many_new_visitors_see_why_in_the_page(browser, start_web):
    web_app = await start_web()
    web_app.chat.new_visitors.per_hour = 0
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    response = await page.goto(f"{web_app.url}/chat")
    assert response is not None and response.status == 429
    status = page.locator("#status")
    await status.wait_for()
    assert (await status.inner_text()).startswith("Có quá nhiều người bắt đầu trò chuyện")
    assert await page.locator("#composer").is_hidden()
    assert await page.locator("#welcome").is_hidden()


def test_behind_a_trusted_proxy_new_visitors_are_counted_by_their_own_address():
    """Behind a reverse proxy every visitor would share its address, and 60 new visitors an
    hour would be the whole site's; UNIONBOT_TRUSTED_PROXIES says whose X-Forwarded-For to
    believe, as for the dashboard's login."""
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from bot.channels.webchat import client_address

    transport = mock.Mock()
    transport.get_extra_info.return_value = ("10.0.0.1", 40000)
    request = make_mocked_request(
        "GET", "/chat", headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.2"}, transport=transport
    )
    assert client_address(request, (ipaddress.ip_network("10.0.0.0/8"),)) == "203.0.113.7"
    assert client_address(request) == "10.0.0.1"  # no proxy trusted: the peer itself
