"""End-to-end throughput and latency of the bot on Telegram and Zalo, against an echo baseline.

    python bench/e2e.py [--db sqlite,postgresql] [--channel telegram,zalo] [--workers 200]
                        [--seconds 10] [--processes 1,2,4]

Two processes: this one runs the fake Telegram Bot API and the load generator; a child runs
the bot (ours: webhook -> inbox -> dispatcher -> handlers -> outbox -> sendMessage; or the
echo baseline: the same aiohttp server, the same PTB request backend and fake API, with a
handler that echoes straight back). Simulated workers send a mix of /start, button presses
and free text; on Zalo the same mix as signed webhook events (a button press is the text a
tapped button sends) answered through the fake Zalo OA API. Measured:
- rate: sustained updates/s with a fixed pool of workers in a closed loop (each sends its
  next update when the reply to the previous one reached the fake API);
- p50/p99: from the webhook POST to the fake API receiving the reply, open-loop at half of
  our maximum rate.
- order: after those, every worker sends numbered messages (/k1, /k2, ...: commands the bot
  does not know, so each reply names its message) one after the other without waiting for the
  replies, to the processes in turn; every reply is checked against what its chat sent:
  `lost` (never answered), `repeated` (answered twice) and `reordered` (chats answered out of
  order) must all be 0.
With `--processes N` the bot runs as N processes on one database (PostgreSQL: SQLite takes
one process, so it is measured with N = 1 only) and the load goes to them in turn, as a load
balancer would spread it; the latency phase is at half of the N-process rate.
Prints one JSON line per database, channel and process count (the ratio is against the same
Telegram echo baseline, one process, for both channels):
{"bench": "e2e", "channel": ..., "db": ..., "processes": ..., "rate": ..., "baseline_rate": ...,
 "ratio": ..., "p50_ms": ..., "p99_ms": ..., "peak_rss_mb": ..., "lost": ..., "repeated": ...,
 "reordered": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.fakes.zalo_api import FakeZalo, sign, text_of  # noqa: E402
from tests.ordering import judge, numbered  # noqa: E402

SECRET = "bench_secret_0123456789"
PG_URL = os.environ.get(
    "UNIONBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BUTTONS = ("menu:home", "status:list", "q:offer:join", "lang:choose")
TEXTS = (
    "cty ko tra luong 2 thang r",
    "cho em hỏi về bảo hiểm xã hội",
    "làm thêm giờ có được không",
)


# The encryption key of this run's bot processes.
KEY = os.environ.get("UNIONBOT_ENCRYPTION_KEY") or Fernet.generate_key().decode()


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- the bot process ------------------------------------------------------------------------


async def serve_ours(args: argparse.Namespace) -> web.Application:
    from bot import logs
    from bot.app import create_app
    from bot.config import Settings

    logs.setup(30)
    zalo = FakeZalo()  # its defaults are the ids and secrets the load process signs with
    settings = Settings.from_env(
        {
            "DATABASE_URL": args.db_url,
            "TELEGRAM_BOT_TOKEN": args.token,
            "TELEGRAM_API_BASE": args.api_base,
            "PUBLIC_URL": f"http://127.0.0.1:{args.port}",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            # A throwaway key (the bench seals nothing worth keeping), one for all the bot
            # processes of a run: they read what each other sealed (Zalo's tokens, drafts).
            "UNIONBOT_ENCRYPTION_KEY": os.environ["UNIONBOT_ENCRYPTION_KEY"],
            "ZALO_APP_ID": zalo.app_id,
            "ZALO_APP_SECRET": zalo.app_secret,
            "ZALO_OA_SECRET_KEY": zalo.oa_secret,
            "ZALO_ACCESS_TOKEN": zalo.access_token,
            "ZALO_REFRESH_TOKEN": zalo.refresh_token,
            "ZALO_API_BASE": args.zalo_base,
            "ZALO_OAUTH_BASE": f"{args.zalo_base}/oauth",
        }
    ).with_(
        auto_upgrade=True,
        seed_directory=ROOT / "content" / "directory" / "sample.yaml",
        # Simulated workers send far faster than people type; flood control would stop them.
        flood_limit_per_minute=0,
    )
    return create_app(settings)


async def serve_echo(args: argparse.Namespace) -> web.Application:
    """The baseline: same server, same PTB bot and request backend, no inbox, no logic."""
    from telegram import Bot, Update

    from bot.channels.telegram_request import AiohttpRequest

    app = web.Application(client_max_size=1024 * 1024)
    tasks: set[asyncio.Task[Any]] = set()

    async def lifecycle(app: web.Application):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
            bot = Bot(args.token, base_url=args.api_base, request=AiohttpRequest(http),
                      get_updates_request=AiohttpRequest(http))  # fmt: skip
            await bot.initialize()
            app["bot"] = bot
            gc.freeze()  # as create_app does, so both sides get the same collector settings
            yield
            if tasks:
                await asyncio.wait(tasks, timeout=5)
            await bot.shutdown()

    async def echo(update: Update) -> None:
        if update.callback_query is not None:
            chat_id, text = update.callback_query.message.chat.id, update.callback_query.data
        else:
            chat_id, text = update.message.chat.id, update.message.text
        await app["bot"].send_message(chat_id=chat_id, text=text or "?")

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
            return web.json_response({"ok": False}, status=403)
        data = json.loads(await request.read())
        task = asyncio.create_task(echo(Update.de_json(data, app["bot"])))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.json_response({"ok": True})

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/telegram/webhook", webhook)
    return app


def run_bot_process(args: argparse.Namespace) -> None:
    serve_until_stopped(
        lambda: serve_ours(args) if args.serve == "ours" else serve_echo(args), args.port
    )


def serve_until_stopped(make_app: Callable[[], Awaitable[web.Application]], port: int) -> None:
    """The bot process: serve the app on `port`, print READY, stop on SIGTERM, then print
    the process's peak RSS as a JSON line (read by `stop_bot`)."""

    async def main() -> None:
        runner = web.AppRunner(await make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("READY", flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": round(peak, 1)}), flush=True)


# -- the load process -----------------------------------------------------------------------


class Load:
    """Simulated workers posting updates and waiting for the replies at the fake API."""

    PATH = "/telegram/webhook"

    def __init__(self, fake: FakeTelegram, urls: list[str], workers: int) -> None:
        self.fake = fake
        self.urls = [f"{url}{self.PATH}" for url in urls]
        self._turn = itertools.count()
        self.workers = [8_000_000 + i for i in range(workers)]
        self.waiting: dict[str, deque[asyncio.Future[float]]] = {}
        self.step = dict.fromkeys(self.workers, 0)
        fake.on_send = self._replied
        self.http: aiohttp.ClientSession | None = None
        self.numbering = False
        self.replies: list[tuple[str, str]] = []  # (chat, text) while numbering

    @property
    def url(self) -> str:
        """The next process's webhook, in turn."""
        return self.urls[next(self._turn) % len(self.urls)]

    def chat(self, worker: int) -> str:
        return str(worker)

    def reply_text(self, params: dict[str, Any]) -> str:
        return str(params.get("text", ""))

    def numbered_request(self, worker: int, n: int) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(self.fake.text_update(worker, numbered(n))).encode()
        return body, {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    def _replied(self, chat_id: str, params: dict[str, Any]) -> None:
        if self.numbering:
            self.replies.append((chat_id, self.reply_text(params)))
            return
        queue = self.waiting.get(chat_id)
        if queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(time.perf_counter())

    def next_update(self, worker: int) -> dict[str, Any]:
        step = self.step[worker]
        self.step[worker] = step + 1
        if step == 0 or step % 3 == 0:
            return self.fake.text_update(worker, "/start")
        if step % 3 == 1:
            return self.fake.button_update(worker, BUTTONS[(step // 3) % len(BUTTONS)])
        return self.fake.text_update(worker, TEXTS[(step // 3) % len(TEXTS)])

    def request(self, worker: int) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the worker's next update."""
        body = json.dumps(self.next_update(worker)).encode()
        return body, {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    async def one(self, worker: int) -> float:
        """Send the worker's next update; return the seconds until its reply arrived."""
        assert self.http is not None
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(self.chat(worker), deque()).append(future)
        body, headers = self.request(worker)
        started = time.perf_counter()
        async with self.http.post(self.url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"webhook answered {response.status}")
        return await asyncio.wait_for(future, 60) - started

    async def closed_loop(self, warmup: float, seconds: float) -> float:
        """Updates per second with every worker always waiting on one reply."""
        done: list[float] = []
        stop = time.perf_counter() + warmup + seconds

        async def worker_loop(worker: int) -> None:
            while time.perf_counter() < stop:
                await self.one(worker)
                done.append(time.perf_counter())

        begin = time.perf_counter()
        await asyncio.gather(*(worker_loop(w) for w in self.workers))
        window_start, window_end = begin + warmup, stop
        return sum(window_start <= t <= window_end for t in done) / seconds

    async def open_loop(self, rate: float, seconds: float) -> list[float]:
        """Latencies of updates arriving at a fixed rate regardless of replies."""
        latencies: list[float] = []
        tasks: list[asyncio.Task[None]] = []
        workers = itertools.cycle(self.workers)
        count = max(1, int(rate * seconds))
        begin = time.perf_counter()

        async def timed(worker: int) -> None:
            latencies.append(await self.one(worker))

        for i in range(count):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(timed(next(workers))))
        await asyncio.gather(*tasks)
        return latencies

    async def check_order(self, each: int, timeout: float = 60.0) -> dict[str, int]:
        """Every worker sends `each` numbered messages, each once the previous one was
        accepted (not answered); then every chat's replies are checked against them."""
        assert self.http is not None
        http = self.http
        self.numbering, self.replies = True, []

        async def burst(worker: int) -> None:
            for n in range(1, each + 1):
                body, headers = self.numbered_request(worker, n)
                async with http.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"webhook answered {response.status}")

        await asyncio.gather(*(burst(w) for w in self.workers))
        expected = len(self.workers) * each
        deadline = time.perf_counter() + timeout
        while len(self.replies) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # room for a late duplicate
        self.numbering = False
        verdict = judge({self.chat(w): each for w in self.workers}, self.replies)
        return {"lost": verdict.lost, "repeated": verdict.repeated, "reordered": verdict.reordered}


class ZaloLoad(Load):
    """The same workers on Zalo: signed events to /zalo/webhook, replies at the fake Zalo."""

    PATH = "/zalo/webhook"

    def __init__(self, fake: FakeTelegram, zalo: FakeZalo, urls: list[str], workers: int) -> None:
        super().__init__(fake, urls, workers)
        self.zalo = zalo
        zalo.on_send = self._replied

    def chat(self, worker: int) -> str:
        return str(2468458835296190000 + worker)  # Zalo ids exceed 2^53: strings

    def reply_text(self, params: dict[str, Any]) -> str:
        return text_of(params)

    def numbered_request(self, worker: int, n: int) -> tuple[bytes, dict[str, str]]:
        return self._signed(worker, numbered(n))

    def request(self, worker: int) -> tuple[bytes, dict[str, str]]:
        step = self.step[worker]
        self.step[worker] = step + 1
        if step == 0 or step % 3 == 0:
            text = "/start"
        elif step % 3 == 1:
            text = "#" + BUTTONS[(step // 3) % len(BUTTONS)]  # what a tapped button sends
        else:
            text = TEXTS[(step // 3) % len(TEXTS)]
        return self._signed(worker, text)

    def _signed(self, worker: int, text: str) -> tuple[bytes, dict[str, str]]:
        event = self.zalo.text_event(self.chat(worker), text)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        mac = sign(body, event["app_id"], event["timestamp"], self.zalo.oa_secret)
        return body, {"X-ZEvent-Signature": mac, "Content-Type": "application/json"}


def _with_key(key: str) -> dict[str, str]:
    """The bot process's environment: the key goes there, not in argv, where a key that
    starts with "-" reads as an option (and any user's `ps` shows it)."""
    return {**os.environ, "UNIONBOT_ENCRYPTION_KEY": key}


async def start_bot(kind: str, db_url: str, fake: FakeTelegram, zalo: FakeZalo) -> tuple[Any, str]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", kind, "--db-url", db_url, "--port", str(port),
        "--api-base", fake.api_base, "--token", fake.token, "--zalo-base", zalo.api_base,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=_with_key(KEY),
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if line.strip() != b"READY":
        raise RuntimeError(f"bot process did not start: {line!r}")
    return proc, f"http://127.0.0.1:{port}"


async def stop_bot(proc: Any) -> float:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return float(json.loads(out.decode().strip().splitlines()[-1])["peak_rss_mb"])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def database(kind: str):
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"unionbot_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    fake = FakeTelegram(record=False)
    zalo = FakeZalo(record=False)
    await fake.start()
    await zalo.start()
    results = []
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            async with database("sqlite") as url:  # the baseline needs none; any URL will do
                proc, bot_url = await start_bot("echo", url, fake, zalo)
                load = Load(fake, [bot_url], args.workers)
                load.http = http
                baseline = await load.closed_loop(args.warmup, args.seconds)
                await stop_bot(proc)
            log(f"echo baseline: {baseline:.0f} updates/s")
            for kind in args.db:
                for channel in args.channel:
                    for count in args.processes:
                        if kind == "sqlite" and count > 1:
                            log("sqlite: one process only (SQLite takes one); skipped", count)
                            continue
                        line = await measure_one(args, http, fake, zalo, kind, channel, count)
                        results.append({**line, "baseline_rate": round(baseline, 1),
                                        "ratio": round(line["rate"] / baseline, 3)
                                        if baseline else None})  # fmt: skip
    finally:
        await fake.stop()
        await zalo.stop()
    return [{key: line[key] for key in KEYS} for line in results]


KEYS = ("bench", "channel", "db", "processes", "rate", "baseline_rate", "ratio", "p50_ms",
        "p99_ms", "peak_rss_mb", "lost", "repeated", "reordered")  # fmt: skip


async def measure_one(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    fake: FakeTelegram,
    zalo: FakeZalo,
    kind: str,
    channel: str,
    count: int,
) -> dict[str, Any]:
    """One database, channel and number of bot processes: rate, latency, order."""
    async with database(kind) as url:
        # One after the other: the first creates the schema, the others find it.
        started = [await start_bot("ours", url, fake, zalo) for _ in range(count)]
        try:
            return await measured(args, http, fake, zalo, kind, channel, started)
        finally:
            for proc, _url in started:
                if proc.returncode is None:
                    proc.kill()


async def measured(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    fake: FakeTelegram,
    zalo: FakeZalo,
    kind: str,
    channel: str,
    started: list[tuple[Any, str]],
) -> dict[str, Any]:
    """The phases against bot processes already started; stops them at the end."""
    urls = [bot_url for _proc, bot_url in started]
    count = len(started)
    load = (
        ZaloLoad(fake, zalo, urls, args.workers)
        if channel == "zalo"
        else Load(fake, urls, args.workers)
    )
    load.http = http
    rate, p50, p99 = await run_load(load, f"{kind}/{channel}/{count}", args)
    order = await load.check_order(args.numbered)
    peaks = [await stop_bot(proc) for proc, _url in started]
    return {"bench": "e2e", "channel": channel, "db": kind, "processes": count,
            "rate": round(rate, 1), "p50_ms": p50, "p99_ms": p99,
            "peak_rss_mb": max(peaks), **order}  # fmt: skip


async def run_load(load: Load, name: str, args: argparse.Namespace) -> tuple[float, float, float]:
    """The closed-loop rate, then the p50 and p99 latencies (ms) at half of it."""
    rate = await load.closed_loop(args.warmup, args.seconds)
    if rate <= 0:
        raise RuntimeError(f"{name}: no update was answered")
    log(f"{name}: {rate:.0f} updates/s; latency at {rate / 2:.0f}/s …")
    latencies = sorted(await load.open_loop(rate / 2, args.seconds))
    p50 = round(statistics.median(latencies) * 1000, 2)
    return rate, p50, round(_percentile(latencies, 0.99) * 1000, 2)


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated backends")
    parser.add_argument("--channel", default="telegram,zalo", help="comma-separated channels")
    parser.add_argument("--workers", type=int, default=200, help="simulated workers")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before measuring")
    parser.add_argument("--processes", default="1", help="comma-separated bot process counts")
    parser.add_argument(
        "--numbered", type=int, default=5, help="numbered messages per worker in the order check"
    )
    parser.add_argument("--serve", choices=["ours", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--zalo-base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_bot_process(args)
        return
    args.db = [d.strip() for d in args.db.split(",") if d.strip()]
    args.channel = [c.strip() for c in args.channel.split(",") if c.strip()]
    args.processes = [int(n) for n in args.processes.split(",") if n.strip()]
    for line in asyncio.run(measure(args)):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
