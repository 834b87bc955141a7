"""Faults under load, for the chaos tests and bench/chaos.py: workers keep sending numbered
messages to several real bot processes while processes are killed (SIGKILL) or the database
is restarted; afterwards every chat's replies are checked against what it sent, and the
database against what was processed.

A worker's message is sent again, unchanged (same update id), until a process accepts it
with 200, as Telegram does; a refused or cut-off request goes to the next process, as a load
balancer would send it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import text

from storage import db
from tests.fakes.telegram_api import FakeTelegram
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.processes import SECRET, BotProcess, Cluster, wait_healthy
from tests.ordering import judge, numbered

FIRST_CHAT = 7_500_000


@dataclass
class Load:
    """Workers each sending /k1, /k2, … one after the other (each once the previous one was
    accepted, not answered) to whichever processes are alive."""

    fake: FakeTelegram
    cluster: Cluster
    chats: int
    pause: float = 0.02
    sent: dict[str, int] = field(default_factory=dict)
    refusals: dict[int, int] = field(default_factory=dict)  # HTTP status -> how many
    stopping: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _turn: int = 0

    def start(self, http: aiohttp.ClientSession) -> None:
        for i in range(self.chats):
            self._tasks.append(asyncio.create_task(self._worker(http, FIRST_CHAT + i)))

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*self._tasks)

    def _alive(self) -> list[BotProcess]:
        return [p for p in self.cluster.processes if p.process.poll() is None]

    async def _worker(self, http: aiohttp.ClientSession, chat: int) -> None:
        n = 0
        while not self.stopping:
            n += 1
            await self._deliver(http, self.fake.text_update(chat, numbered(n)))
            self.sent[str(chat)] = n
            await asyncio.sleep(self.pause)

    async def _deliver(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        """Post until some process says 200 (the same update each time)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        while True:
            alive = self._alive()
            if alive:
                self._turn += 1
                bot = alive[self._turn % len(alive)]
                try:
                    async with http.post(
                        f"{bot.url}/telegram/webhook", json=update, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=10),
                    ) as answer:  # fmt: skip
                        await answer.read()
                        if answer.status == 200:
                            return
                        self.refusals[answer.status] = self.refusals.get(answer.status, 0) + 1
                except (aiohttp.ClientError, TimeoutError):
                    self.refusals[0] = self.refusals.get(0, 0) + 1
            await asyncio.sleep(0.05)


@dataclass
class Outcome:
    trials: int
    lost: int
    processed_twice: int
    duplicate_sends: int
    reordered: int
    replies: int
    updates: int
    refusals: dict[int, int]  # HTTP status (0: no answer) -> how many posts were refused


async def settle(fake: FakeTelegram, load: Load, timeout: float) -> None:
    """Wait until every sent message has a reply (or the time is up)."""
    expected = sum(load.sent.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(set(numbers(fake))) >= expected:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a late repeat would arrive now


def numbers(fake: FakeTelegram) -> list[tuple[str, str]]:
    return [(chat, body) for chat, body in fake.messages if "/k" in body]


async def outcome(db_url: str, fake: FakeTelegram, load: Load, trials: int) -> Outcome:
    """Judge the replies, and count from the database what was processed and written."""
    replies = numbers(fake)
    verdict = judge(load.sent, replies)
    database = db.Database.open(db_url)
    try:
        async with database.engine.connect() as conn:
            done = int(await conn.scalar(text("SELECT count(*) FROM inbox WHERE status = 'done'")))
            written = int(await conn.scalar(text("SELECT count(*) FROM outbox")))
    finally:
        await database.close()
    return Outcome(
        trials=trials,
        lost=verdict.lost,
        # Each numbered message is answered by one outbox row: more rows than updates
        # processed means an update was handled twice.
        processed_twice=max(0, written - done),
        duplicate_sends=max(0, len(replies) - written),
        reordered=verdict.reordered,
        replies=len(replies),
        updates=sum(load.sent.values()),
        refusals=dict(load.refusals),
    )


async def kill_trials(
    cluster: Cluster,
    fake: FakeTelegram,
    trials: int,
    *,
    chats: int = 8,
    seed: int = 18,
    log: Callable[[str], object] = lambda _line: None,
) -> Outcome:
    """`trials` times: let the load run a random moment, SIGKILL a random process, start a
    new one in its place. Then let everything drain and judge."""
    rng = random.Random(seed)
    load = Load(fake, cluster, chats)
    async with aiohttp.ClientSession() as http:
        load.start(http)
        replacing: list[Awaitable[None]] = []
        for trial in range(trials):
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            alive = [p for p in cluster.processes if p.process.poll() is None]
            victim = rng.choice(alive)
            victim.kill()
            log(f"trial {trial + 1}: killed process {victim.pid}")
            replacing.append(wait_healthy(cluster.spawn()))
            # Never fewer than one process up: wait for the replacement when it is the last.
            if len(alive) <= 2:
                await replacing.pop()
        await asyncio.gather(*replacing)
        await asyncio.sleep(1.0)
        await load.stop()
        lease = float(cluster.environment(0)["UNIONBOT_LEASE_SECONDS"])
        await settle(fake, load, timeout=30 + 2 * lease)
    return await outcome(cluster.db_url, fake, load, trials)


async def restart_trial(
    cluster: Cluster,
    fake: FakeTelegram,
    database: PrivatePostgres,
    *,
    chats: int = 6,
    away: float = 3.0,
    log: Callable[[str], object] = lambda _line: None,
) -> tuple[Outcome, float]:
    """Stop the database under load (as if it crashed), start it again `away` seconds later;
    then judge, and say how long after it came back a new message was answered."""
    load = Load(fake, cluster, chats)
    async with aiohttp.ClientSession() as http:
        load.start(http)
        await asyncio.sleep(2.0)
        database.stop("immediate")
        log("database stopped")
        await asyncio.sleep(away)
        database.start()
        back = time.monotonic()
        log("database started")
        probe = str(FIRST_CHAT + 999)
        await load._deliver(http, fake.text_update(int(probe), numbered(1)))
        load.sent[probe] = 1
        deadline = back + 60
        while not any(chat == probe for chat, _body in numbers(fake)):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        recovery = time.monotonic() - back
        await asyncio.sleep(1.0)
        await load.stop()
        await settle(fake, load, timeout=60)
    return await outcome(cluster.db_url, fake, load, 1), recovery
