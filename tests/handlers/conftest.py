"""Dialogue tests drive the dispatcher directly: text in, replies out, one transaction per
message, on both databases, with a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.outbox import Sender
from bot.services import Services
from bot.services.i18n import Catalogs
from bot.services.knowledge import Knowledge
from handlers.types import Attachment, Incoming, Outgoing
from storage import db, unions
from storage.directory import load as load_directory
from tests.support import SAMPLE_DIRECTORY, TEST_VAULT

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # 09:30 in Đà Lạt


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Talk:
    """One person talking to the bot through the dispatcher: `say` types, `press` presses a
    button shown in the last replies by its label, `attach` sends files. Each returns the
    replies (also kept in `last`)."""

    def __init__(
        self, dispatcher: Dispatcher, database: db.Database, user: str, channel: str = "terminal"
    ) -> None:
        self.dispatcher = dispatcher
        self.db = database
        self.user = user
        self.channel = channel
        self.last: list[Outgoing] = []

    async def send(self, msg: Incoming) -> list[Outgoing]:
        async with self.db.sessions() as session:
            replies = await self.dispatcher.handle(session, msg, self.dispatcher.services.clock())
            await session.commit()
        self.last = replies
        return replies

    async def say(self, text: str) -> list[Outgoing]:
        return await self.send(Incoming(self.channel, self.user, self.user, text=text))

    async def press(self, label: str) -> list[Outgoing]:
        """Press the button labelled `label` in the bot's last replies, as a worker would
        (the newest, if several show it)."""
        found = [b.payload for r in self.last for row in r.buttons for b in row if b.label == label]
        assert found, (
            f"no button {label!r} in the last replies; the buttons shown were "
            f"{[labels(r) for r in self.last]}"
        )
        return await self.press_payload(found[-1])

    async def press_payload(self, payload: str, chat: str | None = None) -> list[Outgoing]:
        """Send a button press carrying `payload` as it is, whether or not such a button was
        shown (in another chat, e.g. a group, when `chat` is given). For what a label cannot
        say: forged, stale or out-of-scope payloads, or a button from an earlier message."""
        return await self.send(
            Incoming(self.channel, self.user, chat or self.user, payload=payload)
        )

    async def attach(self, *attachments: Attachment) -> list[Outgoing]:
        return await self.send(
            Incoming(self.channel, self.user, self.user, attachments=attachments)
        )


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[db.Database]:
    database = db.Database.open(db_url)
    async with database.sessions() as session:
        await unions.import_directory(session, load_directory(SAMPLE_DIRECTORY))
        await session.commit()
    yield database
    await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def dispatcher(
    database: db.Database, settings: Settings, clock: Clock, knowledge: Knowledge
) -> Dispatcher:
    catalogs = Catalogs(settings.content_dir / "locales")
    services = Services(settings, catalogs, knowledge, TEST_VAULT, clock)
    return Dispatcher(services, {}, Sender(database, services, {}))


@pytest.fixture
def talk(dispatcher: Dispatcher, database: db.Database):
    """talk(user="900", channel="terminal") -> Talk."""
    return lambda user="900", channel="terminal": Talk(dispatcher, database, user, channel)


def buttons(reply: Outgoing) -> list[str]:
    return [b.payload for row in reply.buttons for b in row]


def labels(reply: Outgoing) -> list[str]:
    return [b.label for row in reply.buttons for b in row]
