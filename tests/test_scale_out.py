"""Several `unionbot serve` processes on one PostgreSQL: every update handled once, each
chat's replies in the order its messages arrived, the duties run by one process and taken
over when it dies; and SQLite refusing a second process. Real processes, not tasks."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.app import create_app
from bot.config import ConfigError, Settings
from storage import db
from tests.fakes.telegram_api import Failure, FakeTelegram
from tests.fixtures import pgbouncer
from tests.fixtures.pgbouncer import PgBouncer
from tests.fixtures.processes import ROOT, SECRET, BotProcess, Cluster
from tests.fixtures.running_bot import serve
from tests.ordering import judge, numbered
from tests.support import IN_CI

ON_POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

CHATS = 12
EACH = 12
REFUSED = Failure(502, "Bad Gateway")


async def unsent(db_url: str) -> int:
    """Outbox rows not marked sent, read past the pooler."""
    database = db.Database.open(db_url)
    try:
        async with database.sessions() as session:
            query = text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            return int(await session.scalar(query) or 0)
    finally:
        await database.close()


async def post(http: aiohttp.ClientSession, bot: BotProcess, update: dict[str, object]) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with http.post(f"{bot.url}/telegram/webhook", json=update, headers=headers) as answer:
        await answer.read()
        return answer.status


async def chat_burst(
    http: aiohttp.ClientSession,
    fake_telegram: FakeTelegram,
    bots: list[BotProcess],
    chat: int,
    each: int,
) -> None:
    """One worker's numbered messages, each sent once the previous one was accepted, to the
    processes in turn (a load balancer spreading them)."""
    for n in range(1, each + 1):
        bot = bots[(chat + n) % len(bots)]
        status = await post(http, bot, fake_telegram.text_update(chat, numbered(n)))
        assert status == 200


async def wait_replies(fake_telegram: FakeTelegram, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(fake_telegram.messages) < count and time.monotonic() < deadline:  # noqa: ASYNC110 - a count
        await asyncio.sleep(0.1)


async def duties_holder(db_url: str) -> str | None:
    database = db.Database.open(db_url)
    try:
        async with database.engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT holder FROM leases WHERE name = 'duties' AND expires_at > now()")
            )
    finally:
        await database.close()
    return str(found) if found is not None else None


@ON_POSTGRESQL
async def test_two_processes_handle_each_update_once_and_in_order(
    bots: Cluster, fake_telegram: FakeTelegram, db_url: str
) -> None:
    running = [await bots.start(), await bots.start()]
    chats = [7_100_000 + i for i in range(CHATS)]
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(
            *(chat_burst(http, fake_telegram, running, chat, EACH) for chat in chats)
        )
    await wait_replies(fake_telegram, CHATS * EACH)
    await asyncio.sleep(1.0)  # a late duplicate would arrive now

    verdict = judge({str(c): EACH for c in chats}, fake_telegram.messages)
    assert verdict.lost == verdict.repeated == verdict.reordered == 0, verdict
    assert len(fake_telegram.messages) == CHATS * EACH
    database = db.Database.open(db_url)
    try:
        async with database.engine.connect() as conn:
            states = dict((await conn.execute(text(
                "SELECT status, count(*) FROM inbox GROUP BY status"
            ))).all())  # fmt: skip
            owners = await conn.scalar(text("SELECT count(DISTINCT owner) FROM outbox"))
    finally:
        await database.close()
    assert states == {"done": CHATS * EACH}
    assert owners == 2  # both processes did part of the work


@ON_POSTGRESQL
async def test_the_duties_move_to_a_survivor_when_their_process_dies(
    bots: Cluster, fake_telegram: FakeTelegram, db_url: str
) -> None:
    first = await bots.start()
    second = await bots.start()
    holder = await duties_holder(db_url)
    assert holder is not None and f":{first.pid}:" in holder
    first.kill()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        holder = await duties_holder(db_url)
        if holder is not None and f":{second.pid}:" in holder:
            break
        await asyncio.sleep(0.3)
    assert holder is not None and f":{second.pid}:" in holder
    # The log line follows the lease's commit: on a busy machine, a moment later.
    while "now performs the duties" not in second.output() and time.monotonic() < deadline + 5:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert "now performs the duties" in second.output()
    # And it still answers.
    async with aiohttp.ClientSession() as http:
        assert await post(http, second, fake_telegram.text_update(7_200_001, numbered(1))) == 200
    await wait_replies(fake_telegram, 1)
    assert judge({"7200001": 1}, fake_telegram.messages).clean


@ON_POSTGRESQL
async def test_a_stopped_process_hands_the_duties_over_at_once(
    bots: Cluster, fake_telegram: FakeTelegram, db_url: str
) -> None:
    first = await bots.start()
    second = await bots.start()
    assert first.stop() == 0
    deadline = time.monotonic() + 3  # one renewal (a third of the 3 s lease), not the lease
    holder = None
    while time.monotonic() < deadline:
        holder = await duties_holder(db_url)
        if holder is not None and f":{second.pid}:" in holder:
            break
        await asyncio.sleep(0.1)
    assert holder is not None and f":{second.pid}:" in holder


@ON_POSTGRESQL
async def test_replies_of_a_killed_process_are_sent_by_another(
    bots: Cluster, fake_telegram: FakeTelegram, db_url: str
) -> None:
    first = await bots.start()
    second = await bots.start()
    # The messenger refuses every send for now: the first process's replies wait in the
    # outbox for a retry when it is killed.
    refusing = True
    fake_telegram.chaos = lambda method: REFUSED if refusing and method == "sendMessage" else None
    chats = [7_300_000 + i for i in range(4)]
    async with aiohttp.ClientSession() as http:
        for chat in chats:
            assert await post(http, first, fake_telegram.text_update(chat, numbered(1))) == 200
    await asyncio.sleep(1.5)  # processed, replies written, sends refused
    first.kill()
    refusing = False

    await wait_replies(fake_telegram, len(chats), timeout=30)
    verdict = judge({str(c): 1 for c in chats}, fake_telegram.messages)
    assert verdict.lost == 0 and verdict.reordered == 0, verdict
    assert second.process.poll() is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_takes_one_process(settings: Settings, tmp_path: Path) -> None:
    running = await serve(create_app(settings))
    try:
        with pytest.raises(ConfigError, match="another unionbot process"):
            await serve(create_app(settings))
        # A real second process says so and ends.
        env = {"DATABASE_URL": settings.database_url, "HTTP_PORT": "0", "PYTHONPATH": str(ROOT)}
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2
        assert b"another unionbot process is running" in err
    finally:
        await running.stop()
    # Once the first has stopped, another may start.
    again = await serve(create_app(settings))
    await again.stop()


@ON_POSTGRESQL
async def test_two_processes_behind_pgbouncer_in_transaction_mode(
    db_url: str, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    if pgbouncer.installed() is None:
        if IN_CI:
            pytest.fail("PgBouncer is not installed (.ci/run installs Debian's pgbouncer)")
        pytest.skip("PgBouncer is not installed (apt-get install pgbouncer)")
    pooler = PgBouncer.start(db_url)
    # Three server connections for two processes' pools: transactions share connections.
    bots = Cluster(pooler.url_for(db_url), fake_telegram, tmp_path)
    try:
        running = [await bots.start(), await bots.start()]
        chats = [7_400_000 + i for i in range(6)]
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(
                *(chat_burst(http, fake_telegram, running, chat, 8) for chat in chats)
            )
        await wait_replies(fake_telegram, len(chats) * 8)
        await asyncio.sleep(0.5)
        verdict = judge({str(c): 8 for c in chats}, fake_telegram.messages)
        assert verdict.clean, verdict
        assert len(fake_telegram.messages) == len(chats) * 8
        # Every send's mark committed: a mark that failed (a statement outside a transaction
        # reaches another server connection than its prepared statement) is logged, and its
        # message would go again after a restart.
        for bot in running:
            assert "prepared statement" not in bot.output()
            assert " ERROR " not in bot.output()
        assert await unsent(db_url) == 0
    finally:
        await asyncio.to_thread(bots.stop_all)
        pooler.stop()
