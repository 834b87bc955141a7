"""Chaos: the disk under the SQLite database fills up while the bot serves Telegram by webhook.

A full disk is simulated without mounting anything: SQLite answers SQLITE_FULL ("database or
disk is full") when a write would grow the file beyond `PRAGMA max_page_count`, as when the
disk has no room for it. Every connection the bot takes from its pool gets that limit at the
file's current size (`FullDisk`), and the room left inside the last pages is taken too.

What must hold: the webhook refuses what it cannot store (503: Telegram retries; never a 500,
and nothing acknowledged that was not stored); the logs say the database or disk is full; the
process keeps running and /healthz still answers 200 (the database answers reads; restarting
would not make room); nothing is half-written (an update is processed with its state, reply
and done mark, or not at all); and once there is room again Telegram's retries are stored and
every worker gets exactly one reply per message, in order. An officer acting on the dashboard
meanwhile reads that nothing was saved (503), not a server error.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.exc import OperationalError

from bot.app import DATABASE
from bot.services import accounts
from storage import db
from storage.models import Case, CaseMessage, InboxItem, OutboxItem
from tests.fakes.telegram_api import FakeTelegram, TelegramUser
from tests.fixtures.running_bot import RunningBot
from tests.scenarios import NOW, report_to_the_dairy_union

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
# SQLite's own default limit (before 3.45): as good as none.
NO_LIMIT = 2**30 - 1
FULL = "database or disk is full"
# The channel of the rows that take up the room left: the bot runs no such channel.
FILLER = "filler"
# What each worker writes, in order: commands whose replies differ from the one before, so a
# reply out of order, missing or twice shows.
SCRIPT = ["/help", "/hoso", "/dangky", "/menu"] * 3
WORKERS = range(9100, 9106)
FORM_WORKER = 9200
LEARNER = 9300


class FullDisk:
    """The bot's SQLite file may not grow while `full`: each connection the bot checks out
    of its pool gets `PRAGMA max_page_count` (a limit below the file's size is taken as its
    size), so a write that needs a new page fails with SQLITE_FULL.

    `fill()` also takes the room left in the free pages and in the outbox's last page, so no
    reply fits any more, and leaves room for a few updates in the inbox's last page, so some
    are still stored (and acknowledged) but cannot be answered. Its rows are of a channel the
    bot does not run: it never reads, sends or clears them."""

    def __init__(self, database: db.Database) -> None:
        self.database = database
        self.full = False
        event.listen(database.engine.sync_engine, "checkout", self._limit)

    def _limit(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={1 if self.full else NO_LIMIT}")
        cursor.close()

    async def fill(self) -> None:
        now = datetime.now(UTC)
        # Room in the inbox's last page: rows put there, deleted once the file may not grow
        # (the last row stays, so the page is not given back to the free pages).
        room = [self._update(str(n), 400, now) for n in range(8)]
        assert await self._write(*room, self._update("last", 1, now))
        self.full = True
        async with self.database.writing(), self.database.sessions() as session:
            await session.execute(delete(InboxItem).where(InboxItem.id.in_([r.id for r in room])))
            await session.commit()
        for size in (2000, 200, 20, 1):
            while await self._write(self._reply(size, now)):
                pass

    @staticmethod
    def _update(key: str, size: int, now: datetime) -> InboxItem:
        return InboxItem(channel=FILLER, external_id=key, payload={"x": "x" * size},
                         status="done", attempts=0, received_at=now)  # fmt: skip

    @staticmethod
    def _reply(size: int, now: datetime) -> OutboxItem:
        return OutboxItem(channel=FILLER, chat_id="", text="x" * size, buttons=[],
                          created_at=now, sent_at=now)  # fmt: skip

    async def _write(self, *rows: object) -> bool:
        """Whether these rows fitted (written in one transaction)."""
        try:
            async with self.database.writing(), self.database.sessions() as session:
                session.add_all(rows)
                await session.commit()
        except OperationalError as exc:
            assert FULL in str(exc)
            return False
        return True

    async def free(self) -> None:
        """Room again: the file may grow, and the filling rows go."""
        self.full = False
        async with self.database.writing(), self.database.sessions() as session:
            await session.execute(delete(OutboxItem).where(OutboxItem.channel == FILLER))
            await session.execute(delete(InboxItem).where(InboxItem.channel == FILLER))
            await session.commit()


async def writes_fail(database: db.Database) -> bool:
    """Whether the bot's database refuses a write that needs a new page (a new table's)."""
    try:
        async with database.writing(), database.sessions() as session:
            await session.execute(text("CREATE TABLE disk_probe (x INTEGER)"))
            await session.execute(text("DROP TABLE disk_probe"))
            await session.commit()
    except OperationalError as exc:
        assert FULL in str(exc)
        return True
    return False


async def gap(sessions: db.Sessions) -> int:
    """Replies written minus updates marked done, in one snapshot. Each message here has one
    reply, written in the transaction that marks its update done, so this stays 0 unless an
    update was half-written (done without its reply, or a reply without its done mark)."""
    async with sessions() as session:
        replies = await session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.channel != FILLER)
        )
        done = await session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.status == "done", InboxItem.channel != FILLER)
        )
    return int(replies or 0) - int(done or 0)


async def inbox_rows(sessions: db.Sessions) -> list[tuple[str, int]]:
    """(status, attempts) of every update the bot received."""
    async with sessions() as session:
        rows = await session.execute(
            select(InboxItem.status, InboxItem.attempts).where(InboxItem.channel != FILLER)
        )
        return [(status, attempts) for status, attempts in rows]


async def integrity(sessions: db.Sessions) -> str:
    async with sessions() as session:
        return str(await session.scalar(text("PRAGMA integrity_check")))


class Worker:
    """A worker going through SCRIPT. Telegram sends their next message only once the one
    before was acknowledged with 200; one refused (503) it delivers again first."""

    def __init__(self, fake: FakeTelegram, user_id: int) -> None:
        self.fake = fake
        self.user_id = user_id
        self.next = 0
        self.refused: dict[str, Any] | None = None
        self.acknowledged: list[dict[str, Any]] = []

    @property
    def done(self) -> bool:
        return self.refused is None and self.next == len(SCRIPT)

    async def step(self) -> int:
        """Deliver the refused update again, else the next message; the webhook's status."""
        update = self.refused or self.fake.text_update(self.user_id, SCRIPT[self.next])
        status, _body = await self.fake.deliver(update)
        assert status in (200, 503), status  # never a 500
        if status == 503:
            self.refused = update
            return status
        self.next += 1
        self.refused = None
        self.acknowledged.append(update)
        return status


async def learn_answers(fake: FakeTelegram) -> dict[str, str]:
    """What each command of SCRIPT answers someone who has started."""
    learner = TelegramUser(fake, LEARNER)
    await learner.say("/start")
    answers: dict[str, str] = {}
    for command in dict.fromkeys(SCRIPT):
        await learner.say(command)
        answers[command] = fake.sent(LEARNER)[-1]["text"]
    return answers


@SQLITE_ONLY
async def test_a_full_disk_refuses_updates_clearly_and_loses_none(
    start_bot, fake_telegram, sessions, caplog, monkeypatch
):
    # The inbox worker retries fast: a full disk of a few seconds meets as many retries as
    # one of minutes would in production (where a retry waits a second).
    monkeypatch.setattr("bot.dispatch.RETRY_PAUSE_SECONDS", 0.02)
    fake = fake_telegram
    bot = await start_bot()
    database = bot.app[DATABASE]
    disk = FullDisk(database)

    # Before: every worker has started; one is half-way through a report.
    answers = await learn_answers(fake)
    for user_id in WORKERS:
        await TelegramUser(fake, user_id).say("/start")
    form = TelegramUser(fake, FORM_WORKER)
    await form.say("/start")
    await form.press("Gửi phản ánh")
    await form.press("Nợ lương, chậm lương")
    assert fake.sent(FORM_WORKER)[-1]["text"].startswith("Việc này xảy ra ở đâu?")
    await bot.runtime.settle()
    assert await gap(sessions) == 0
    before = {user_id: len(fake.sent(user_id)) for user_id in [*WORKERS, FORM_WORKER]}

    # The disk fills. The form's next answer, then the workers' messages, come in.
    await disk.fill()
    assert await writes_fail(database)
    form_answer = fake.text_update(FORM_WORKER, "nha may sua cao nguyen")
    form_status, _ = await fake.deliver(form_answer)
    assert form_status == 200  # there was room to store it, not to answer it
    workers = [Worker(fake, user_id) for user_id in WORKERS]
    statuses = []
    for _round in SCRIPT:
        statuses += [await w.step() for w in workers if w.refused is None and not w.done]
        assert await gap(sessions) == 0
    assert 503 in statuses, "the webhook never refused an update: the disk did not fill"
    assert 200 in statuses, "no update was stored and then left without room for its reply"
    stored_unanswered = len(fake.sent())
    async with aiohttp.ClientSession() as http:
        for _ in range(20):  # meanwhile the inbox worker tries again and again
            await asyncio.sleep(0.05)
            assert await gap(sessions) == 0
        async with http.get(f"{bot.url}/healthz") as health:
            assert health.status == 200  # the database answers reads; the process is fine
    assert len(fake.sent()) == stored_unanswered  # nothing was answered without its done mark
    assert all(not task.done() for task in bot.runtime.tasks)
    assert await integrity(sessions) == "ok"
    # Nothing given up or counted against an update: a full disk is not its fault.
    assert {row for row in await inbox_rows(sessions)} == {("done", 0), ("pending", 0)}
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(FULL in line and "could not store" in line for line in logged)
    assert any(FULL in line and "update" in line for line in logged)

    # Room again: Telegram's retries come in, then the workers carry on.
    await disk.free()
    assert not await writes_fail(database)
    while not all(worker.done for worker in workers):
        for worker in workers:
            if not worker.done:
                assert await worker.step() == 200
    # Telegram may deliver an acknowledged update again: it is not processed twice.
    assert (await fake.deliver(workers[0].acknowledged[0]))[0] == 200
    await bot.runtime.settle()
    await asyncio.sleep(0.3)  # a rescan of the outbox would send a reply again now
    await bot.runtime.settle()

    for worker in workers:
        got = [m["text"] for m in fake.sent(worker.user_id)[before[worker.user_id] :]]
        assert got == [answers[command] for command in SCRIPT], worker.user_id
    # The report goes on from where it was: the workplace is checked, then the story asked.
    [check] = fake.sent(FORM_WORKER)[before[FORM_WORKER] :]
    assert check["text"] == "Mình hiểu là Công ty TNHH Sữa Cao Nguyên, đúng không?"
    await form.press("Đúng rồi")
    assert fake.sent(FORM_WORKER)[-1]["text"].startswith("Chuyện gì đã xảy ra?")
    await bot.runtime.settle()
    assert await gap(sessions) == 0
    assert await integrity(sessions) == "ok"
    assert set(await inbox_rows(sessions)) == {("done", 0)}


async def log_in(http: aiohttp.ClientSession, bot: RunningBot, login: str, password: str) -> None:
    async with http.get(f"{bot.url}/officer/login") as page:
        token = csrf_in(await page.text())
    form = {"csrf": token, "login": login, "password": password}
    async with http.post(f"{bot.url}/officer/login", data=form, allow_redirects=False) as done:
        assert done.status == 303


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def thread_length(sessions: db.Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CaseMessage)) or 0)


@SQLITE_ONLY
async def test_an_officer_action_on_a_full_disk_says_nothing_was_saved(
    start_bot, fake_telegram, sessions
):
    fake = fake_telegram
    bot = await start_bot()
    disk = FullDisk(bot.app[DATABASE])
    worker = TelegramUser(fake, 9400)
    await report_to_the_dairy_union(worker)
    await worker.press("Gửi")
    await bot.runtime.settle()
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Bình", role="officer", now=NOW,
            login="binh", password="mat-khau-rat-dai",
        )  # fmt: skip
        await session.commit()
        code = (await session.scalars(select(Case.code))).one()
    case_url = f"{bot.url}/officer/case/{code}"
    reply = "Công đoàn đã nhận phản ánh, mai cán bộ sẽ gọi lại."
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        await log_in(http, bot, "binh", "mat-khau-rat-dai")
        await disk.fill()
        assert await writes_fail(bot.app[DATABASE])
        async with http.get(case_url) as page:
            assert page.status == 200  # reading still works
            token = csrf_in(await page.text())
        messages, sent = await thread_length(sessions), len(fake.sent(9400))
        form = {"csrf": token, "text": reply}
        async with http.post(f"{case_url}/reply", data=form, allow_redirects=False) as refused:
            assert refused.status == 503
            assert refused.content_type == "text/html"
            body = await refused.text()
        assert 'class="error" role="alert"' in body
        assert "Traceback" not in body and "Server got itself in trouble" not in body
        await asyncio.sleep(0.2)
        assert await thread_length(sessions) == messages  # nothing of the reply was saved
        assert len(fake.sent(9400)) == sent  # nor sent

        await disk.free()
        async with http.post(f"{case_url}/reply", data=form, allow_redirects=False) as done:
            assert done.status == 303
    await bot.runtime.settle()
    assert [reply in m["text"] for m in fake.sent(9400)[sent:]] == [True]
    assert await thread_length(sessions) == messages + 1
