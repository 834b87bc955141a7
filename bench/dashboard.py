"""How fast the officers' queue page answers with thousands of open requests.

    python bench/dashboard.py [--db sqlite,postgresql] [--cases 5000] [--rounds 30]

Seeds a fresh database with the sample directory, an officer of the dairy's union and
`--cases` open requests in its queue (a sixth of them overdue, every seventh a hardship
request, some very urgent), logs in over HTTP and times GET /officer/queue: the New view
(what needs action first, with every row's preview, age, due time and unread count), the
All view, and the last page of New. Prints one JSON line per database:
{"bench": "queue", "db": ..., "cases": ..., "new_p50_ms": ..., "new_p99_ms": ...,
 "all_p50_ms": ..., "last_page_p50_ms": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.e2e import database  # noqa: E402

PASSWORD = "mat-khau-rat-dai"


async def seed(app, count: int) -> None:
    """The officer and `count` open requests, inserted in batches."""
    from bot.app import DATABASE
    from bot.services import accounts
    from storage import cases, unions

    db = app[DATABASE]
    now = datetime.now(UTC)
    async with db.writing(), db.sessions() as session:
        await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Bình", role="officer", now=now,
            login="binh", password=PASSWORD,
        )  # fmt: skip
        union = await unions.by_code(session, "GR-SUACAONGUYEN")
        for i in range(count):
            support = i % 7 == 0
            await cases.open(
                session, kind="support" if support else "grievance", union_id=union.id,
                person_id=None, anonymous=True, now=now - timedelta(days=3),
                text=f"Yêu cầu số {i}: công ty chậm trả lương, cả xưởng chưa ai được trả",
                category="illness" if support else "wages",
                due_at=now + timedelta(hours=(i % 120) - 20),
                details={"urgency": "now" if i % 35 == 0 else "later"} if support else {},
            )  # fmt: skip
            if i % 500 == 499:
                await session.commit()
        await session.commit()


async def timed(client: TestClient, path: str, rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get(path)
        await response.read()
        assert response.status == 200, response.status
        spent.append((time.perf_counter() - started) * 1000)
    return sorted(spent)


async def measure(kind: str, url: str, count: int, rounds: int) -> dict[str, object]:
    from cryptography.fernet import Fernet

    from bot.app import create_app
    from bot.config import Settings

    settings = Settings.from_env(
        {"DATABASE_URL": url, "UNIONBOT_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    ).with_(auto_upgrade=True, seed_directory=ROOT / "content" / "directory" / "sample.yaml")
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        await seed(client.server.app, count)
        page = await (await client.get("/officer/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        login = {"csrf": token, "login": "binh", "password": PASSWORD}
        assert (await client.post("/officer/login", data=login)).status == 200
        new = await timed(client, "/officer/queue?view=new", rounds)
        everything = await timed(client, "/officer/queue?view=all", rounds)
        last = await timed(client, f"/officer/queue?view=new&page={count // 50}", rounds)
    finally:
        await client.close()
    return {
        "bench": "queue",
        "db": kind,
        "cases": count,
        "new_p50_ms": round(statistics.median(new), 1),
        "new_p99_ms": round(new[min(len(new) - 1, round(0.99 * (len(new) - 1)))], 1),
        "all_p50_ms": round(statistics.median(everything), 1),
        "last_page_p50_ms": round(statistics.median(last), 1),
    }


async def main_async(args: argparse.Namespace) -> None:
    for kind in args.db:
        async with database(kind) as url:
            print(json.dumps(await measure(kind, url, args.cases, args.rounds)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated backends")
    parser.add_argument("--cases", type=int, default=5000, help="open requests in the queue")
    parser.add_argument("--rounds", type=int, default=30, help="page loads per view")
    args = parser.parse_args()
    args.db = [d.strip() for d in args.db.split(",") if d.strip()]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
