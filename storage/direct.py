"""Straight to the driver: the hot one-statement writes on PostgreSQL, without SQLAlchemy's
per-statement machinery.

Every webhook call stores its updates and every send is marked: each a statement that is its
own transaction (`Database.statement`). Through a pooled SQLAlchemy connection such a
statement costs ~0.27 ms of processor time here; on a connection of its own, given to asyncpg
as SQL compiled once, ~0.07 ms (measured; the bot process's processor is what limits its rate).
The statements are still built with SQLAlchemy (one definition, in storage/), compiled once
per statement and set of parameter names, their values converted by the same bind processors
SQLAlchemy uses; so the two paths write the same rows.

The connections come from the engine (its connect arguments and codecs), detached from its
pool: a handful, kept idle here between statements. One that raised is closed, not kept: after
a database restart or a cancelled statement its state is unknown. Not behind PgBouncer (there
a statement must be wrapped in a transaction: `Database.statement` keeps SQLAlchemy's path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

# Connections at most: the inbox writer and the sender each run one statement at a time.
MAX_CONNECTIONS = 4
# Statements compiled and kept at most (the callers build theirs once: a handful).
MAX_COMPILED = 64


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL for asyncpg, its parameters in order, and their converters."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]
    converters: Mapping[str, Callable[[Any], Any]]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.constants[name]
            convert = self.converters.get(name)
            values.append(convert(value) if convert is not None else value)
        return tuple(values)


@dataclass(slots=True)
class DirectConnection:
    """Runs Core statements on one asyncpg connection, each its own transaction. Only
    `execute` with parameters (one set: one statement; a list: executemany, atomic too);
    no results: these are writes."""

    driver: Any  # asyncpg.Connection
    compiled: Callable[[Any, frozenset[str]], Compiled]
    name: str = "postgresql"

    async def execute(
        self, statement: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        if isinstance(params, Mapping):
            found = self.compiled(statement, frozenset(params))
            await self.driver.execute(found.sql, *found.arguments(params))
        elif params:
            found = self.compiled(statement, frozenset(params[0]))
            await self.driver.executemany(found.sql, [found.arguments(p) for p in params])


@dataclass(slots=True)
class DirectConnections:
    """A few asyncpg connections of the engine's, outside its pool, for `DirectConnection`s."""

    engine: AsyncEngine
    _idle: list[tuple[Any, float]] = field(default_factory=list)  # (connection, opened at)
    _compiled: dict[tuple[int, frozenset[str]], tuple[Any, Compiled]] = field(default_factory=dict)
    _open: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONNECTIONS))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[DirectConnection]:
        async with self._open:
            driver, opened = await self._take()
            try:
                yield DirectConnection(driver, self._compile)
            except BaseException:
                # Broken, or mid-statement when cancelled: never handed out again.
                driver.terminate()
                raise
            if not driver.is_closed():
                self._idle.append((driver, opened))

    async def _take(self) -> tuple[Any, float]:
        """An idle connection still open and not older than the pool's recycle age (as
        pooled ones: a firewall may drop one idle for long), or a new one."""
        recycle = getattr(self.engine.pool, "_recycle", -1)
        while self._idle:
            driver, opened = self._idle.pop()
            if not driver.is_closed() and (recycle < 0 or time.monotonic() - opened < recycle):
                return driver, opened
            await _close(driver)
        return await self._connect(), time.monotonic()

    async def _connect(self) -> Any:
        pooled = await self.engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()  # ours now: the pool neither counts nor recycles it
        return driver

    def _compile(self, statement: Any, names: frozenset[str]) -> Compiled:
        # Keyed by identity, the statement kept alongside so its id is never reused.
        key = (id(statement), names)
        found = self._compiled.get(key)
        if found is None:
            compiled = statement.compile(
                dialect=self.engine.dialect, column_keys=sorted(names), for_executemany=True
            )
            # The values built into the statement, and the converters SQLAlchemy applies too.
            constants = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}
            converters = dict(compiled._bind_processors)
            positions = tuple(compiled.positiontup or ())
            found = (statement, Compiled(compiled.string, positions, constants, converters))
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.clear()
            self._compiled[key] = found
        return found[1]

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for driver, _opened in idle:
            await _close(driver)


async def _close(driver: Any) -> None:
    with suppress(Exception):
        await driver.close(timeout=5)
