"""Faults under load: bot processes killed at random moments, and the database restarted.

    python bench/chaos.py [--trials 20] [--chats 8] [--away 3]

Two `unionbot serve` processes share a fresh PostgreSQL database (UNIONBOT_TEST_PG_URL, by
default the local server); simulated workers keep sending numbered messages to them, as a
load balancer would spread them, each message sent again to the other process until one
accepts it (as Telegram retries). `--trials` times a random process is killed (SIGKILL) at a
random moment and a new one started in its place. Then, on a PostgreSQL server of the
bench's own (so the shared one stays up), the database is stopped under load and started
again `--away` seconds later. Counted over all of it (tests/chaos/trials.py):
- lost: messages accepted (200) that never got their reply;
- processed_twice: updates handled twice (more replies written than updates handled);
- duplicate_sends: replies the messenger got twice (a killed process's sends it had made
  but not yet marked are made again by the process that takes over);
- reordered: chats whose replies came in another order than their messages;
- db_restart_recovery_s: from the database's return until a new message was answered.
Prints one JSON line:
{"bench": "chaos", "trials", "lost", "processed_twice", "duplicate_sends", "reordered",
 "db_restart_recovery_s"}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import db  # noqa: E402
from tests.chaos.trials import Outcome, kill_trials, restart_trial  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.fixtures.private_pg import PrivatePostgres  # noqa: E402
from tests.fixtures.processes import Cluster  # noqa: E402

PG_URL = os.environ.get(
    "UNIONBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new database on the shared server, at the newest schema; dropped afterwards."""
    admin = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"unionbot_chaos_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        database = db.Database.open(url)
        await db.upgrade(database.engine)
        await database.close()
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def kills(args: argparse.Namespace, fake: FakeTelegram) -> Outcome:
    async with fresh_database() as url:
        with tempfile.TemporaryDirectory() as folder:
            cluster = Cluster(url, fake, Path(folder))
            try:
                await cluster.start()
                await cluster.start()
                return await kill_trials(cluster, fake, args.trials, chats=args.chats, log=log)
            finally:
                await asyncio.to_thread(cluster.stop_all)


async def restart(args: argparse.Namespace, fake: FakeTelegram) -> tuple[Outcome, float]:
    server = PrivatePostgres.create()
    try:
        server.start()
        with tempfile.TemporaryDirectory() as folder:
            cluster = Cluster(server.url, fake, Path(folder), {"UNIONBOT_AUTO_UPGRADE": "true"})
            try:
                await cluster.start()
                await cluster.start()
                return await restart_trial(
                    cluster, fake, server, chats=args.chats, away=args.away, log=log
                )
            finally:
                await asyncio.to_thread(cluster.stop_all)
    finally:
        server.destroy()


async def measure(args: argparse.Namespace) -> dict[str, object]:
    results: list[Outcome] = []
    fake = FakeTelegram(record=False)
    await fake.start()
    try:
        results.append(await kills(args, fake))
        log(f"kills: {results[-1]}")
    finally:
        await fake.stop()
    fake = FakeTelegram(record=False)
    await fake.start()
    try:
        outcome, recovery = await restart(args, fake)
        results.append(outcome)
        log(f"database restart: {outcome}; answering again {recovery:.2f} s after")
    finally:
        await fake.stop()
    return {
        "bench": "chaos",
        "trials": args.trials,
        "lost": sum(r.lost for r in results),
        "processed_twice": sum(r.processed_twice for r in results),
        "duplicate_sends": sum(r.duplicate_sends for r in results),
        "reordered": sum(r.reordered for r in results),
        "db_restart_recovery_s": round(recovery, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="processes killed")
    parser.add_argument("--chats", type=int, default=8, help="simulated workers")
    parser.add_argument("--away", type=float, default=3.0, help="seconds the database is down")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args))), flush=True)


if __name__ == "__main__":
    main()
