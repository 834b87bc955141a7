"""A worker on either messenger, for dialogue tests that run once per channel.

    bot = await messenger.start()              # the real app, with Telegram and Zalo on
    lan = messenger.worker(1)                  # a worker on messenger.name
    await lan.say("/start")                    # each step waits until the bot is idle
    await lan.press("Gia nhập công đoàn")      # a button, or on Zalo the number of an option
    assert lan.last().labels[:2] == ["Hỏi đáp", "Gia nhập công đoàn"]

What the worker saw is read back the same way on both: `Shown(text, labels)`, where the
labels are the buttons under a message (Telegram's inline keyboard, Zalo's buttons) or, on
Zalo, the options shown as numbered lines when they do not fit as buttons.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo

# Zalo user ids are strings longer than 2^53: kept as strings end to end.
ZALO_BASE = 2468458835296197900
OPTION = re.compile(r"^(\d{1,2})\. (.+)$")


@dataclass(frozen=True, slots=True)
class Shown:
    text: str
    labels: list[str]


class Worker:
    """A person on one messenger; `settle` waits until the bot has handled what they sent."""

    def __init__(self, messenger: Messenger, number: int) -> None:
        self.messenger = messenger
        self.number = number

    @property
    def chat(self) -> str:
        """The chat id as the bot stores it."""
        if self.messenger.name == "telegram":
            return str(self.number)
        return str(ZALO_BASE + self.number)

    async def settle(self) -> None:
        await self.messenger.bot.runtime.settle()

    async def say(self, text: str) -> None:
        if self.messenger.name == "telegram":
            await self._deliver_telegram(self.messenger.telegram.text_update(self.number, text))
        else:
            await self._deliver_zalo(self.messenger.zalo.text_event(self.chat, text))

    async def press(self, label: str) -> None:
        """Tap the button labelled `label` under the last message, or on Zalo type the number
        of the option so labelled."""
        if self.messenger.name == "telegram":
            update = self.messenger.telegram.press_update(self.number, label)
            await self._deliver_telegram(update)
            return
        zalo = self.messenger.zalo
        sent = zalo.sent(self.chat)
        if sent and label in [title for title, _, _ in zalo.buttons_of(sent[-1])]:
            await self._deliver_zalo(zalo.tap_event(self.chat, label))
            return
        numbers = [
            m.group(1)
            for m in map(OPTION.match, self.last().text.splitlines())
            if m and m.group(2) == label
        ]
        assert numbers, f"no option {label!r}; the last message showed {self.last().labels}"
        await self._deliver_zalo(zalo.text_event(self.chat, numbers[-1]))

    async def photo(self, content: bytes) -> None:
        if self.messenger.name == "telegram":
            fake = self.messenger.telegram
            await self._deliver_telegram(fake.photo_update(self.number, fake.add_file(content)))
        else:
            zalo = self.messenger.zalo
            url = zalo.add_file(content, f"photo-{self.number}-{len(zalo.files)}.jpg")
            await self._deliver_zalo(zalo.image_event(self.chat, url))

    def seen(self) -> list[Shown]:
        """Every message the bot sent this worker, oldest first."""
        if self.messenger.name == "telegram":
            return [_telegram_shown(m) for m in self.messenger.telegram.sent(int(self.chat))]
        return [_zalo_shown(self.messenger.zalo, m) for m in self.messenger.zalo.sent(self.chat)]

    def last(self) -> Shown:
        seen = self.seen()
        assert seen, "the bot sent this worker nothing"
        return seen[-1]

    async def _deliver_telegram(self, update: dict[str, Any]) -> None:
        status, _body = await self.messenger.telegram.deliver(update)
        assert status == 200
        await self.settle()

    async def _deliver_zalo(self, event: dict[str, Any]) -> None:
        status, body = await self.messenger.zalo.deliver(event)
        assert status == 200, body
        await self.settle()


class Messenger:
    def __init__(
        self,
        name: str,
        start_bot: Callable[..., Awaitable[Any]],
        telegram: FakeTelegram,
        zalo: FakeZalo,
    ) -> None:
        self.name = name
        self._start_bot = start_bot
        self.telegram = telegram
        self.zalo = zalo
        self.bot: Any = None

    async def start(self, **changes: object) -> Any:
        """Start the bot with both messengers on (officers use Telegram)."""
        self.bot = await self._start_bot(zalo=True, **changes)
        return self.bot

    def worker(self, number: int) -> Worker:
        return Worker(self, number)


def _telegram_shown(message: dict[str, Any]) -> Shown:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return Shown(message.get("text", ""), [b["text"] for row in rows for b in row])


def _zalo_shown(zalo: FakeZalo, message: dict[str, Any]) -> Shown:
    text = zalo.text_of(message)
    labels = [title for title, _, _ in zalo.buttons_of(message)]
    if not labels:
        labels = [m.group(2) for m in map(OPTION.match, text.splitlines()) if m]
    return Shown(text, labels)
