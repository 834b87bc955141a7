"""Shared fixtures: databases (SQLite and PostgreSQL), settings, the fake Telegram API.

Every test that takes `db_url` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database. Both are copies of a template migrated once per session, so a test starts from the
head schema in milliseconds. PostgreSQL comes from UNIONBOT_TEST_PG_URL; where it cannot be
reached the PostgreSQL variants are skipped with the reason, except under CI=true (fail).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import CONTENT_DIR, Settings
from bot.services.crypto import Vault
from bot.services.knowledge import Knowledge
from storage import db

PG_URL = os.environ.get(
    "UNIONBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# A fixed key for data encrypted at rest in tests (never used outside them).
TEST_KEY = "n7b0H6m0m8o3iWq0g2pQy6GqzqH7kXw7oY3p8cQ5b1E="
TEST_VAULT = Vault([TEST_KEY])
SAMPLE_DIRECTORY = Path(__file__).resolve().parents[1] / "content" / "directory" / "sample.yaml"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PgTemplates:
    """Creates one migrated template database per session and cheap copies of it per test."""

    def __init__(self) -> None:
        self.template: str | None = None
        self.error: str | None = None
        self.created: list[str] = []

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(_asyncpg_dsn(PG_URL), timeout=5)

    async def new_database(self) -> str:
        if self.template is None and self.error is None:
            await self._make_template()
        if self.error is not None:
            raise RuntimeError(self.error)
        name = f"unionbot_test_{uuid.uuid4().hex[:12]}"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await conn.close()
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    async def _make_template(self) -> None:
        name = f"unionbot_tmpl_{uuid.uuid4().hex[:12]}"
        try:
            conn = await self._admin()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.error = f"PostgreSQL not reachable at {PG_URL}: {exc!r}"
            return
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        engine = db.create_engine(make_url(PG_URL).set(database=name).render_as_string(False))
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()
        self.template = name

    async def drop(self, url: str) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        finally:
            await conn.close()

    async def drop_templates(self) -> None:
        if not self.created:
            return
        conn = await self._admin()
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[PgTemplates]:
    templates = PgTemplates()
    yield templates
    if templates.created:
        asyncio.run(templates.drop_templates())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def make() -> None:
        engine = db.create_engine(url)
        try:
            await db.upgrade(engine)
            async with engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            await engine.dispose()

    asyncio.run(make())
    return path


def unavailable(reason: str) -> None:
    """Skip for lack of a service, or fail under CI where nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: PostgreSQL must be up; .ci/run starts it)")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_templates: PgTemplates,
) -> AsyncIterator[str]:
    """The URL of a fresh database at the head schema, on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "unionbot.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    try:
        url = await pg_templates.new_database()
    except RuntimeError as exc:
        unavailable(str(exc))
    try:
        yield url
    finally:
        await pg_templates.drop(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> db.Sessions:
    return db.create_sessions(engine)


@functools.cache
def shared_knowledge() -> Knowledge:
    """The knowledge base of content/, built once per test run (it is immutable)."""
    return Knowledge.load(CONTENT_DIR)


@pytest.fixture
def knowledge() -> Knowledge:
    return shared_knowledge()


@pytest.fixture
def clock_now() -> datetime:
    return datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for an app on the test database, with the sample directory as seed."""
    env = {"DATABASE_URL": db_url, "UNIONBOT_ENCRYPTION_KEY": TEST_KEY}
    return Settings.from_env(env, cwd=tmp_path).with_(
        auto_upgrade=False, seed_directory=SAMPLE_DIRECTORY
    )


# -- the running bot against the fake Telegram API ---------------------------------------

import socket  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from aiohttp import web  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.app import RUNTIME, Runtime, create_app  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

WEBHOOK_SECRET = "test-secret_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningBot:
    app: web.Application
    runner: web.AppRunner
    url: str
    stopped: bool = False

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


async def serve(app: web.Application, port: int | None = None) -> RunningBot:
    """Serve the app on a local port (a free one unless given)."""
    port = port or free_port()
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return RunningBot(app, runner, f"http://127.0.0.1:{port}")


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def start_bot(settings: Settings, fake_telegram: FakeTelegram) -> AsyncIterator[object]:
    """start_bot(webhook=True, **settings changes) -> RunningBot, stopped after the test."""
    running: list[RunningBot] = []

    async def start(*, webhook: bool = True, **changes: object) -> RunningBot:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        bot_settings = settings.with_(
            telegram_token=fake_telegram.token,
            telegram_api_base=fake_telegram.api_base,
            public_url=url if webhook else None,
            telegram_webhook_secret=WEBHOOK_SECRET if webhook else None,
            **changes,
        )
        bot = await serve(create_app(bot_settings), port)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        await bot.stop()


async def count(sessions: db.Sessions, model: type, *where: object) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# -- headless Chromium (Debian's package, driven by Playwright) ----------------------------

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the machine
    async_playwright = None  # type: ignore[assignment]


def _missing() -> str | None:
    if async_playwright is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return "Debian's chromium is not installed (apt-get install chromium)"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium through Playwright (skipped without it, except in CI)."""
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true: .ci/run must install it")
        pytest.skip(reason)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
