"""The receiving side of the durable inbox: store updates, then let the caller acknowledge.

Channels call `store()` from a webhook request or a polling loop and acknowledge to the
messenger only after it returns: by then the update is committed. Concurrent calls are
grouped into one transaction (group commit), so under load a single commit covers many
webhook requests instead of each one waiting its turn for the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from bot.logs import describe
from bot.services import Services
from storage import inbox
from storage.db import Database
from storage.inbox import NewUpdate

log = logging.getLogger(__name__)

MAX_BATCH = 500


class InboxWriter:
    def __init__(
        self, database: Database, services: Services, on_stored: Callable[[], None]
    ) -> None:
        self.db = database
        self.services = services
        self.on_stored = on_stored
        self._queue: deque[tuple[Sequence[NewUpdate], asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()

    async def store(self, updates: Sequence[NewUpdate]) -> None:
        """Return once these updates are committed (a redelivered one is simply skipped).

        Raises if the database refused them; the caller must then not acknowledge.
        """
        if not updates:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((updates, future))
        self._wake.set()
        await future

    async def run(self) -> None:
        """Commit whatever accumulated while the previous commit ran, until cancelled."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._commit_some()
        finally:
            for _updates, future in self._queue:
                if not future.done():
                    future.set_exception(ConnectionAbortedError("shutting down"))

    async def _commit_some(self) -> None:
        taken: list[tuple[Sequence[NewUpdate], asyncio.Future[None]]] = []
        count = 0
        while self._queue and count < MAX_BATCH:
            item = self._queue.popleft()
            taken.append(item)
            count += len(item[0])
        if not await self._commit(taken) and len(taken) > 1:
            # One bad update must not fail the others that happened to share its commit.
            for item in taken:
                await self._commit([item])
        self.on_stored()

    async def _commit(self, taken: list[tuple[Sequence[NewUpdate], asyncio.Future[None]]]) -> bool:
        updates = [update for batch, _future in taken for update in batch]
        try:
            async with self.db.statement() as connection:
                await inbox.store(connection, updates, self.services.clock())
        except Exception as exc:
            log.error("could not store %d updates: %s", len(updates), describe(exc))
            if len(taken) == 1 and not taken[0][1].done():
                taken[0][1].set_exception(exc)
            return False
        for _batch, future in taken:
            if not future.done():
                future.set_result(None)
        return True
