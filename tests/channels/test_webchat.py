"""The web chat at /chat: the real app over HTTP, a browser's requests, on both databases."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot import outbox
from bot.app import WEBCHAT, create_app
from bot.channels.base import FetchError
from bot.channels.terminal import TerminalChannel
from bot.channels.webchat import COOKIE, MAX_BODY_BYTES, WebChatChannel, to_update
from bot.config import Settings
from handlers.types import Address, Outgoing
from storage.models import InboxItem, Person
from tests.fixtures.running_bot import RunningBot, serve
from tests.scenarios import MENU_LABELS, MENU_PAYLOADS
from tests.support import count

GREETING = "Xin chào! Mình là trợ lý tự động của Công đoàn"
STATIC = resources.files("bot").joinpath("web", "static")
VISITOR = "A" * 32


class WebApp(RunningBot):
    """The app serving HTTP, with its web chat channel at hand."""

    @property
    def chat(self) -> WebChatChannel:
        return self.app[WEBCHAT]


@dataclass
class Visitor:
    """A browser: its own cookie jar, the last reply id it has seen."""

    http: aiohttp.ClientSession
    url: str
    after: int = 0

    @property
    def cookie(self) -> str | None:
        found = [c.value for c in self.http.cookie_jar if c.key == COOKIE]
        return found[0] if found else None

    async def open(self) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.url}/chat") as response:
            await response.read()
            return response

    async def post(self, body: object, message_id: str | None = None) -> int:
        data = {"id": message_id or str(uuid.uuid4())} | body  # type: ignore[operator]
        # As the page's JSON.stringify sends it: UTF-8, not \u escapes.
        encoded = json.dumps(data, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        async with self.http.post(
            f"{self.url}/chat/send", data=encoded, headers=headers
        ) as response:
            return response.status

    async def say(self, text: str, message_id: str | None = None) -> int:
        return await self.post({"text": text}, message_id)

    async def press(self, payload: str) -> int:
        return await self.post({"button": payload})

    async def poll(self, after: int | None = None) -> list[dict[str, Any]]:
        """One GET /chat/messages from `after` (default: after the last reply seen)."""
        start = self.after if after is None else after
        async with self.http.get(f"{self.url}/chat/messages", params={"after": start}) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            found = await resp.json()
        if after is None and found:
            self.after = found[-1]["id"]
        return found


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
    assert first is not None and len(first) == 32

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

    assert await visitor.press("report:start") == 202
    await web_app.runtime.settle()
    [question] = await visitor.poll()
    assert question["text"] == "Bạn muốn phản ánh về việc gì?"
    assert ("Nợ lương, chậm lương", "f:grievance:category:wages") in keyboard(question)[0]

    assert await visitor.press("f:grievance:category:wages") == 202
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
    assert visitor.cookie is not None
    async with sessions() as session:
        person = (
            await session.scalars(select(Person).where(Person.channel_user_id == visitor.cookie))
        ).one()
        reply = Outgoing(Address("web", visitor.cookie, person.id), script)
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
    await first.press("lang:choose")
    await web_app.runtime.settle()
    # Before writing anything, the second visitor has no replies at all.
    assert await second.poll(after=0) == []

    await second.say("/help")
    await web_app.runtime.settle()
    mine = {m["id"] for m in await first.poll(after=0)}
    theirs = {m["id"] for m in await second.poll(after=0)}
    assert len(mine) == 2 and theirs
    assert mine.isdisjoint(theirs)


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
    await visitor.press("lang:choose")
    await web_app.runtime.settle()
    before = await visitor.poll()
    assert len(before) == 2
    await web_app.stop()

    again = await start_web()
    visitor.url = again.url
    # The page reloaded after the restart: the whole conversation, then what is new.
    assert await visitor.poll(after=0) == before
    assert await visitor.poll() == []
    assert await visitor.press("lang:vi") == 202
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
    channel = WebChatChannel(None, None)  # type: ignore[arg-type]
    update = to_update(VISITOR, {"id": str(uuid.uuid4()), "button": "faq:home"})
    assert update is not None
    msg = channel.to_incoming(update.payload)
    assert msg is not None
    assert (msg.channel, msg.user_id, msg.chat_id) == ("web", VISITOR, VISITOR)
    assert (msg.text, msg.payload) == (None, "faq:home")
    assert channel.to_incoming({"visitor": "short", "text": "x"}) is None
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
