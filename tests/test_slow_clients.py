"""A client that sends its request body slowly holds nobody up: the body is read before any
page takes the database, and one that takes too long is refused with 408. The real app over
HTTP (Telegram webhook, web chat and dashboard in one server), on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from yarl import URL

from bot.app import WEBCHAT
from tests.fakes.telegram_api import FakeTelegram

# Generous: the bot answers in well under a second; this only keeps a hung test from hanging.
PROMPTLY = 5.0


class SlowClient:
    """A raw TCP client posting the login form, a few bytes at a time, never finishing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def trickle(self, data: bytes, pause: float = 0.05) -> None:
        for byte in data:
            self.writer.write(bytes([byte]))
            await self.writer.drain()
            await asyncio.sleep(pause)

    async def answered(self) -> bool:
        """Whether the server has written anything back (or closed) yet."""
        try:
            await asyncio.wait_for(self.reader.read(1), 0.05)
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def slow_login(url: str) -> AsyncIterator[SlowClient]:
    """POST /officer/login announcing 10 000 bytes, of which only a few are sent."""
    address = URL(url)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(
        b"POST /officer/login HTTP/1.1\r\n"
        + f"Host: {address.host}:{address.port}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 10000\r\n\r\n"
    )
    client = SlowClient(reader, writer)
    await client.trickle(b"csrf=")
    try:
        yield client
    finally:
        writer.close()


async def web_chat_reply(url: str) -> list[dict[str, Any]]:
    """A web chat visitor says /start; the bot's replies, once there are any."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{url}/chat") as page:
            assert page.status == 200
        message = {"id": str(uuid.uuid4()), "text": "/start"}
        async with http.post(f"{url}/chat/send", json=message) as sent:
            assert sent.status == 202
        while True:
            async with http.get(f"{url}/chat/messages", params={"after": 0}) as polled:
                found: list[dict[str, Any]] = await polled.json()
            if found:
                return found


async def test_a_slow_login_post_does_not_hold_up_telegram_or_the_web_chat(
    start_bot, fake_telegram: FakeTelegram
):
    bot = await start_bot()
    bot.app[WEBCHAT].poll_seconds = 0.2
    async with slow_login(bot.url) as slow:
        async with asyncio.timeout(PROMPTLY):
            status, _ = await fake_telegram.deliver(fake_telegram.text_update(801, "/start"))
            assert status == 200
            await fake_telegram.wait_for("sendMessage")
            replies = await web_chat_reply(bot.url)
        await slow.trickle(b"x")  # still sending: the login is still open, unanswered
        assert not await slow.answered()
    assert fake_telegram.sent(801)[0]["text"].startswith("Xin chào!")
    assert replies[0]["text"].startswith("Xin chào!")


async def test_a_body_that_never_finishes_is_refused_with_408(start_bot, monkeypatch):
    monkeypatch.setattr("bot.app.BODY_READ_SECONDS", 0.5)
    bot = await start_bot()
    async with slow_login(bot.url) as slow:
        async with asyncio.timeout(PROMPTLY):
            status_line = await slow.reader.readline()
    assert status_line.startswith(b"HTTP/1.1 408 ")
    # The dashboard still answers.
    async with (
        asyncio.timeout(PROMPTLY),
        aiohttp.ClientSession() as http,
        http.get(f"{bot.url}/officer/login") as page,
    ):
        assert page.status == 200
