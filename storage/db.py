"""Engine, sessions and schema upgrades.

SQLite runs in WAL mode with a busy timeout so the web server (writing the inbox) and the
inbox worker (processing it) do not block each other. Migrations run through Alembic with
the script location set here, so no alembic.ini is needed.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
    suppress,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from storage.dialect import Executor
from storage.direct import DirectConnections

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

Sessions = async_sessionmaker[AsyncSession]
# An engine option of ours: False where a statement may not be its own transaction.
STATEMENTS_ALONE = "unionbot_statements_alone"


@dataclass(slots=True)
class Database:
    """The engine, its session factory, and the in-process write gate.

    SQLite allows one writer at a time; when several connections of one process compete,
    SQLite's busy handler sleeps in steps of up to 100 ms. `writing()` queues this process's
    write transactions on an asyncio lock instead, so they never collide inside SQLite.
    PostgreSQL needs no gate.
    """

    engine: AsyncEngine
    sessions: Sessions
    _gate: asyncio.Lock | None = field(default=None, repr=False)
    # PostgreSQL (not behind PgBouncer): where `statement()` runs its statements.
    _direct: DirectConnections | None = field(default=None, repr=False)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> Database:
        engine = create_engine(url, **kwargs)
        gate = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        alone = engine.get_execution_options().get(STATEMENTS_ALONE, True)
        postgres = engine.dialect.name == "postgresql"
        direct = DirectConnections(engine) if postgres and alone else None
        return cls(engine, create_sessions(engine), gate, direct)

    def writing(self) -> AbstractAsyncContextManager[object]:
        """Hold around a write transaction (a no-op on PostgreSQL)."""
        return self._gate if self._gate is not None else nullcontext()

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Executor]:
        """Something to run a unit of work that is one write statement (or one executemany)
        on, committed on leaving, rolled back if the body raises. On PostgreSQL the statement
        is its own transaction (asyncpg's executemany is atomic too), run straight by the
        driver on a connection of its own (storage/direct.py): no BEGIN and COMMIT round trips,
        no session, a quarter of the processor time. The hot paths (storing updates, marking
        sends) use it. SQLite keeps a transaction behind the write gate, and so does
        PostgreSQL behind PgBouncer (`behind_pgbouncer`)."""
        if self._direct is not None:
            async with self._direct.connection() as direct:
                yield direct
            return
        async with self.writing(), self.engine.begin() as connection:
            yield connection

    async def close(self) -> None:
        if self._direct is not None:
            await self._direct.close()
        await self.engine.dispose()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite the file and its folder are created private to the owner
    and WAL is switched on.

    Statement parameters are never put into error messages: they hold what workers wrote.
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # (A file: URI names its file its own way; it is left to SQLite.)
        if parsed.database and parsed.database != ":memory:" and "uri" not in parsed.query:
            make_private_file(Path(parsed.database))
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.query.get("pgbouncer") in ("true", "1", "yes", "on"):
        url, kwargs = behind_pgbouncer(parsed, kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No pre-ping: it costs a round trip per transaction. A connection the server dropped
    # fails one transaction, which the inbox worker and the sender retry anyway.
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def behind_pgbouncer(parsed: URL, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL and engine options for a PgBouncer in transaction mode (DATABASE_URL ending in
    `?pgbouncer=true`): consecutive transactions may reach different server connections, so
    no prepared statement may outlive its transaction. asyncpg's and SQLAlchemy's statement
    caches are off, and the statements asyncpg still prepares get names no other client's
    can clash with (SQLAlchemy's advice for PgBouncer). Nothing else needs changing: the bot
    keeps no session state (its locks are transaction-level advisory locks; no LISTEN, no SET).
    """
    query = {k: v for k, v in parsed.query.items() if k != "pgbouncer"}
    bare = parsed.set(query={**query, "prepared_statement_cache_size": "0"})
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("statement_cache_size", 0)
    connect_args.setdefault("prepared_statement_name_func", lambda: f"__asyncpg_{uuid4()}__")
    # Outside a transaction, asyncpg's prepare and its execution may reach different server
    # connections: every statement goes inside one (`Database.statement`).
    options = {**kwargs.get("execution_options", {}), STATEMENTS_ALONE: False}
    return bare.render_as_string(hide_password=False), {
        **kwargs, "connect_args": connect_args, "execution_options": options,
    }  # fmt: skip


def make_private_file(path: Path) -> None:
    """Create a missing SQLite file (and its folder) readable by its owner only; SQLite gives
    the -wal and -shm files beside it the same permissions. An existing file is left as its
    administrator set it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # An empty file is an empty SQLite database; O_EXCL: never truncate one made meanwhile.
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class InUse(Exception):
    """Another process is running the bot on this SQLite database."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None: PostgreSQL, memory, or a file: URI)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or "uri" in parsed.query:
        return None
    return Path(parsed.database) if parsed.database and parsed.database != ":memory:" else None


def lock_path(database_file: Path) -> Path:
    """The file a process running the bot on a SQLite database holds locked."""
    return database_file.with_name(database_file.name + ".lock")


@contextmanager
def sole_process(url: str) -> Iterator[None]:
    """Hold the SQLite database for this process while running the bot, or raise InUse: SQLite
    has one writer, and the inbox, outbox and duties assume one process on it (PostgreSQL
    takes any number). The operating system lets go of the lock when the process ends, however
    it ends."""
    found = sqlite_file(url)
    if found is None:
        yield
        return
    with locked(found):
        yield


@contextmanager
def locked(database_file: Path) -> Iterator[None]:
    """Hold `lock_path(database_file)` (made if missing), or raise InUse at once when another
    process holds it (`serve`, `chat`, `db restore`)."""
    path = lock_path(database_file)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUse(
                f"another unionbot process is running on {database_file}: SQLite takes one "
                "process; stop it, or use PostgreSQL (DATABASE_URL) to run several"
            ) from None
        yield
    finally:
        os.close(handle)  # closing the file releases the lock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # NORMAL is durable across application crashes in WAL mode; only an OS crash or power
    # loss can lose the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_sessions(engine: AsyncEngine) -> Sessions:
    """The session factory: one AsyncSession per incoming message or web request."""
    return async_sessionmaker(engine, expire_on_commit=False)


LATE_WRITES = "late_writes"


def later(session: AsyncSession, key: tuple[str, ...], write: Callable[[Session], None]) -> None:
    """Make `write` (given the session's synchronous side) part of the caller's transaction
    just before it commits, after the other late writes in the order of their keys.

    For rows that many transactions update (counters, themes): they are then locked last,
    for a moment, and always in the same order, so that transactions of several processes
    neither queue behind each other's whole unit of work nor deadlock. A rollback drops them.
    """
    session.sync_session.info.setdefault(LATE_WRITES, []).append((key, write))


@event.listens_for(Session, "before_commit")
def _write_late(session: Session) -> None:
    for _key, write in sorted(session.info.pop(LATE_WRITES, []), key=lambda late: late[0]):
        write(session)


@event.listens_for(Session, "after_rollback")
def _drop_late(session: Session) -> None:
    session.info.pop(LATE_WRITES, None)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE without RETURNING changed.

    Session.execute gives a CursorResult for those, but its signature promises only a Result
    (a session cannot promise a cursor for every statement); SQLAlchemy's advice is this cast.
    """
    return int(cast(CursorResult[Any], result).rowcount or 0)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is an .ini parser: '%' must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the schema to `revision`, on the engine's own connection."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


@dataclass(frozen=True, slots=True)
class Schema:
    """Where a database's schema stands: its revisions (none: never migrated), the newest
    ones this code has, and those of its revisions this code does not know (a newer version
    of the bot made them)."""

    current: frozenset[str]
    heads: frozenset[str]
    unknown: frozenset[str]

    @property
    def is_current(self) -> bool:
        return self.current == self.heads


async def schema(engine: AsyncEngine) -> Schema:
    """The schema's revisions, read without changing anything."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))

    def current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        found = await connection.run_sync(current)
    known = {migration.revision for migration in script.walk_revisions()}
    return Schema(frozenset(found), frozenset(script.get_heads()), frozenset(found - known))


async def is_current(engine: AsyncEngine) -> bool:
    """True when the database is at the newest migration."""
    return (await schema(engine)).is_current


def run_upgrade(url: str) -> None:
    """Blocking wrapper for the command line."""

    async def go() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
