"""Broadcast delivery against the fake Telegram Bot API: rate at the limit, replies during a
broadcast, faults and a SIGKILL mid-run, and the engine's speed with the limit lifted.

    python bench/broadcast.py [--db sqlite|postgresql] [--seconds 62] [--limit 30]
                              [--chaos 600 (0: no fault run)] [--unthrottled 20000] [--chatters 2]

Two processes, as in bench/e2e.py: this one runs the fake API, seeds the database and times
what reaches the fake; a child runs the bot (`create_app`, webhook mode). Three runs, each on
a fresh database with its own subscribers, a broadcast to the whole federation composed by
one admin and approved by another:
1. paced: limit × seconds recipients at the default limit while a few workers chat with the
   bot; rate = messages/s at the fake from the first broadcast message to the last, ratio =
   rate / limit, reply_p99_ms = from a worker's webhook POST to the reply at the fake;
2. chaos: the fake answers some sends with 429 (retry_after 1) and 5xx, and the bot is
   killed with SIGKILL at a random moment after about 40% have gone, then started again.
   A message claimed but not yet at the messenger when the process dies is never sent again
   (at most once: it may have gone); the log says how many were "uncertain", and one of
   them counts as lost if it had not reached the fake;
3. unthrottled: the limit lifted (TELEGRAM_BROADCAST_PER_SECOND=0): the engine's own rate.
duplicates and lost are summed over all runs (a recipient who got it twice; one who never got
it). Prints one JSON line:
{"bench": "broadcast", "recipients", "limit_per_s", "rate", "ratio", "duplicates", "lost",
 "reply_p99_ms", "peak_rss_mb", "unthrottled_rate"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.e2e import _free_port, database, serve_until_stopped  # noqa: E402
from bench.e2e import stop_bot as stop_process  # noqa: E402
from tests.fakes.telegram_api import Failure, FakeTelegram  # noqa: E402

SECRET = "bench_secret_0123456789"
FIRST_CHAT = 500_000_000
CHATTER_CHAT = 400_000_000


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- the bot process ------------------------------------------------------------------------


def run_bot_process(args: argparse.Namespace) -> None:
    async def make_app() -> web.Application:
        from bot import logs
        from bot.app import create_app
        from bot.config import Settings

        logs.setup(30)
        settings = Settings.from_env(
            {
                "DATABASE_URL": args.db_url,
                "TELEGRAM_BOT_TOKEN": args.token,
                "TELEGRAM_API_BASE": args.api_base,
                "PUBLIC_URL": f"http://127.0.0.1:{args.port}",
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "UNIONBOT_ENCRYPTION_KEY": os.environ["UNIONBOT_ENCRYPTION_KEY"],
                "TELEGRAM_BROADCAST_PER_SECOND": str(args.limit),
                "UNIONBOT_QUIET_HOURS": "off",
            }
        ).with_(
            auto_upgrade=True,
            seed_directory=ROOT / "content" / "directory" / "sample.yaml",
            flood_limit_per_minute=0,
        )
        return create_app(settings)

    serve_until_stopped(make_app, args.port)


@dataclass
class Bot:
    proc: Any
    url: str


async def start_bot(db_url: str, fake: FakeTelegram, key: str, limit: float) -> Bot:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--db-url", db_url, "--port", str(port),
        "--api-base", fake.api_base, "--token", fake.token,
        "--limit", str(limit), stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        # The key goes in the environment: in argv one that starts with "-" reads as an option.
        env={**os.environ, "UNIONBOT_ENCRYPTION_KEY": key},
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if line.strip() != b"READY":
        raise RuntimeError(f"bot process did not start: {line!r}")
    return Bot(proc, f"http://127.0.0.1:{port}")


async def stop_bot(bot: Bot) -> float:
    return await stop_process(bot.proc)


async def kill_bot(bot: Bot) -> None:
    bot.proc.kill()
    await bot.proc.wait()


# -- the database -----------------------------------------------------------------------------


async def seed(db_url: str, key: str, recipients: int) -> int:
    """Subscribers and an approved broadcast to the whole federation; its id."""
    from sqlalchemy import insert, select

    from bot.services import accounts
    from bot.services import broadcasts as service
    from storage import db, unions
    from storage.models import Person, Subscription

    database = db.Database.open(db_url)
    now = datetime.now(UTC)
    try:
        async with database.sessions() as session:
            rows = [
                {"channel": "telegram", "channel_user_id": str(FIRST_CHAT + i), "language": "vi",
                 "blocked": False, "created_at": now}
                for i in range(recipients)
            ]  # fmt: skip
            for start in range(0, len(rows), 5000):
                await session.execute(insert(Person), rows[start : start + 5000])
            ids = (await session.scalars(select(Person.id))).all()
            subs = [{"person_id": i, "topic": "policy", "created_at": now} for i in ids]
            for start in range(0, len(subs), 5000):
                await session.execute(insert(Subscription), subs[start : start + 5000])
            root = await unions.root(session)
            assert root is not None
            first = await accounts.add_officer(
                session, union_code=root.code, name="A", role="admin", now=now
            )
            second = await accounts.add_officer(
                session, union_code=root.code, name="B", role="admin", now=now
            )
            text = "Lương tối thiểu vùng tăng 7,2% từ ngày 1/1/2026 (Nghị định 293/2025/NĐ-CP)."
            draft = service.Draft(service.Audience(root.id), text)
            broadcast = await service.compose(session, first, draft, now)
            await session.flush()
            await service.approve(session, second, broadcast.id, now)
            await session.commit()
            return broadcast.id
    finally:
        await database.close()


async def broadcast_status(db_url: str, broadcast_id: int) -> tuple[str, dict[str, int]]:
    from sqlalchemy import func, select

    from storage import db
    from storage.models import Broadcast, BroadcastDelivery

    database = db.Database.open(db_url)
    try:
        async with database.sessions() as session:
            found = await session.get(Broadcast, broadcast_id)
            rows = await session.execute(
                select(BroadcastDelivery.status, func.count())
                .where(BroadcastDelivery.broadcast_id == broadcast_id)
                .group_by(BroadcastDelivery.status)
            )
            return (found.status if found else "missing", {s: n for s, n in rows})
    finally:
        await database.close()


async def wait_for_directory(bot: Bot) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            async with http.get(f"{bot.url}/healthz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.1)


async def wait_done(db_url: str, broadcast_id: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, counts = await broadcast_status(db_url, broadcast_id)
        if status == "done":
            return counts
        await asyncio.sleep(1.0)
    raise TimeoutError(f"broadcast not done after {timeout:.0f} s: {counts}")


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    recipients: int
    times: list[float] = field(default_factory=list)
    got: Counter[str] = field(default_factory=Counter)
    replies: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    uncertain: int = 0
    # Set once this many broadcast messages arrived (the chaos run kills the bot then).
    kill_at: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def watch(self, fake: FakeTelegram, chatters: dict[str, float]) -> None:
        def sent(chat_id: str, params: dict[str, Any]) -> None:
            if chat_id in chatters:
                self.replies.append(time.monotonic() - chatters.pop(chat_id))
            elif int(chat_id) >= FIRST_CHAT:
                self.got[chat_id] += 1
                self.times.append(time.monotonic())
                if self.kill_at and len(self.times) >= self.kill_at:
                    self.reached.set()

        fake.on_send = sent

    @property
    def rate(self) -> float:
        if len(self.times) < 2:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])

    def faults(self) -> tuple[int, int]:
        duplicates = sum(n - 1 for n in self.got.values() if n > 1)
        lost = sum(1 for i in range(self.recipients) if str(FIRST_CHAT + i) not in self.got)
        return duplicates, lost


async def chat(bot: Bot, fake: FakeTelegram, chatters: dict[str, float], count: int,
               stop: asyncio.Event) -> None:  # fmt: skip
    """`count` workers each write to the bot every two seconds until `stop`. Their replies
    spend from the same budget as the broadcast (Telegram's limit is the bot's, not the
    broadcast's), so each reply a second costs the broadcast one message a second."""
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            for worker in range(count):
                user = CHATTER_CHAT + worker
                if str(user) in chatters:
                    continue  # still waiting for the previous reply
                update = fake.text_update(user, random.choice(["/start", "đoàn phí bao nhiêu"]))
                chatters[str(user)] = time.monotonic()
                async with http.post(
                    f"{bot.url}/telegram/webhook", json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as response:  # fmt: skip
                    await response.read()
            await asyncio.sleep(2.0)


async def paced(args: argparse.Namespace, fake: FakeTelegram, key: str) -> Run:
    recipients = int(args.limit * args.seconds) + 1
    run = Run(recipients)
    chatters: dict[str, float] = {}
    async with database(args.db) as db_url:
        bot = await start_bot(db_url, fake, key, args.limit)
        await wait_for_directory(bot)
        run.watch(fake, chatters)
        stop = asyncio.Event()
        talking = asyncio.create_task(chat(bot, fake, chatters, args.chatters, stop))
        broadcast_id = await seed(db_url, key, recipients)
        await wait_done(db_url, broadcast_id, args.seconds * 3 + 60)
        stop.set()
        await talking
        run.peak_rss_mb = await stop_bot(bot)
    return run


async def chaos(args: argparse.Namespace, fake: FakeTelegram, key: str) -> Run:
    run = Run(args.chaos, kill_at=int(args.chaos * 0.4))
    rng = random.Random(16)

    def trouble(method: str) -> Failure | None:
        if method != "sendMessage":
            return None
        roll = rng.random()
        if roll < 0.005:
            return Failure(429, "Too Many Requests: retry after 1", 1)
        if roll < 0.04:
            return Failure(rng.choice([500, 502, 503]), "Bad Gateway")
        return None

    async with database(args.db) as db_url:
        bot = await start_bot(db_url, fake, key, args.chaos_limit)
        await wait_for_directory(bot)
        run.watch(fake, {})
        fake.chaos = trouble
        broadcast_id = await seed(db_url, key, args.chaos)
        await run.reached.wait()
        # At a moment of its own, not just as a message arrives: a crash strikes at random.
        await asyncio.sleep(rng.uniform(0, 0.5))
        await kill_bot(bot)
        log(f"killed with {sum(run.got.values())} of {args.chaos} sent")
        bot = await start_bot(db_url, fake, key, args.chaos_limit)
        counts = await wait_done(db_url, broadcast_id, 300)
        run.uncertain = counts.get("uncertain", 0)
        fake.chaos = None
        await stop_bot(bot)
    return run


async def unthrottled(args: argparse.Namespace, fake: FakeTelegram, key: str) -> Run:
    run = Run(args.unthrottled)
    async with database(args.db) as db_url:
        bot = await start_bot(db_url, fake, key, 0)
        await wait_for_directory(bot)
        run.watch(fake, {})
        broadcast_id = await seed(db_url, key, args.unthrottled)
        await wait_done(db_url, broadcast_id, 600)
        await stop_bot(bot)
    return run


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    key = os.environ.get("UNIONBOT_ENCRYPTION_KEY") or Fernet.generate_key().decode()
    fake = FakeTelegram(record=False)
    await fake.start()
    try:
        runs = {}
        for name, run in (("paced", paced), ("chaos", chaos), ("unthrottled", unthrottled)):
            if name == "chaos" and not args.chaos:
                continue  # --chaos 0: no fault run (the test suite's quick check)
            fake.messages.clear()
            runs[name] = await run(args, fake, key)
            done = runs[name]
            log(name, f"rate {done.rate:.1f}/s", "duplicates, lost:", done.faults(),
                "uncertain:", done.uncertain)  # fmt: skip
    finally:
        await fake.stop()
    first = runs["paced"]
    replies = sorted(first.replies) or [0.0]
    faults = [run.faults() for run in runs.values()]
    return {
        "bench": "broadcast",
        "recipients": first.recipients,
        "limit_per_s": args.limit,
        "rate": round(first.rate, 2),
        "ratio": round(first.rate / args.limit, 3),
        "duplicates": sum(d for d, _ in faults),
        "lost": sum(lost for _, lost in faults),
        "reply_p99_ms": round(replies[min(len(replies) - 1, int(len(replies) * 0.99))] * 1000, 1),
        "peak_rss_mb": first.peak_rss_mb,
        "unthrottled_rate": round(runs["unthrottled"].rate, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=62.0)
    parser.add_argument("--limit", type=float, default=30.0)
    parser.add_argument("--chaos", type=int, default=600)
    parser.add_argument("--chaos-limit", type=float, default=30.0)
    parser.add_argument("--unthrottled", type=int, default=20000)
    parser.add_argument("--chatters", type=int, default=2)
    # The bot process.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_bot_process(args)
        return
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(json.dumps(asyncio.run(measure(args))), flush=True)


if __name__ == "__main__":
    main()
