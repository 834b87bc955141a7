"""The evidence fetcher: downloads the files workers sent, scrubs them, stores the bytes.

Handlers only record that a file arrived (storage/evidence.py), so a reply never waits for a
download. This loop takes due rows, asks the file's channel for the bytes (Telegram: getFile
and the file endpoint), scrubs them off the event loop (bot/services/scrubber.py) and stores
the result in the database, where backups and every process see it. A network failure is
retried with backoff; a file that cannot be had or used is marked with a reason officers
see. Files of forms never sent are swept after the form would have expired.

Logs name evidence ids and reasons only: never a file reference, a name or the content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

from bot.channels.base import Channel, FetchError
from bot.logs import describe
from bot.services import Services, scrubber
from storage import evidence
from storage.db import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# A form's files wait this long for the form to be sent (forms expire after 7 days).
ORPHAN_DAYS = 8
SWEEP_EVERY_SECONDS = 3600.0


class EvidenceFetcher:
    def __init__(
        self, database: Database, services: Services, channels: Mapping[str, Channel]
    ) -> None:
        self.db = database
        self.services = services
        self.channels = channels
        self._last_sweep: float | None = None

    async def run(self) -> None:
        """Fetch what is due, forever; sweep abandoned files now and then."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self._last_sweep is None or loop.time() - self._last_sweep > SWEEP_EVERY_SECONDS:
                    self._last_sweep = loop.time()
                    await self.sweep()
                while await self.run_once():
                    pass
            except Exception as exc:
                log.error("evidence fetching failed: %s", describe(exc))
            await asyncio.sleep(POLL_SECONDS)

    async def run_once(self) -> int:
        """Fetch the files due now; how many were handled."""
        async with self.db.sessions() as session:
            rows = [
                (r.id, r.channel, r.reference, r.kind, r.mime, r.attempts)
                for r in await evidence.due(session, self.services.clock())
            ]
        for row in rows:
            await self.fetch(*row)
        return len(rows)

    async def fetch(
        self,
        evidence_id: int,
        channel_name: str,
        reference: str | None,
        kind: str,
        mime: str | None,
        attempts: int,
    ) -> None:
        channel = self.channels.get(channel_name)
        if channel is None:
            # Another process runs that channel (or it is switched off); it will fetch.
            return
        outcome: tuple[str, str] | None = None
        scrubbed: scrubber.Scrubbed | None = None
        if reference is None:
            outcome = ("failed", "no_reference")
        else:
            try:
                data = await channel.fetch(reference, scrubber.MAX_BYTES)
                scrubbed = await asyncio.to_thread(scrubber.scrub, kind, mime, data)
            except FetchError as exc:
                if exc.permanent or attempts + 1 >= evidence.MAX_ATTEMPTS:
                    outcome = ("failed", str(exc))
            except scrubber.Unusable as exc:
                outcome = ("rejected", exc.reason)
            except Exception as exc:
                log.warning("evidence %d: fetching failed: %s", evidence_id, describe(exc))
                if attempts + 1 >= evidence.MAX_ATTEMPTS:
                    outcome = ("failed", "error")
        now = self.services.clock()
        async with self.db.writing(), self.db.sessions() as session:
            if scrubbed is not None:
                await evidence.store(
                    session, evidence_id, mime=scrubbed.mime, content=scrubbed.content, now=now
                )
            elif outcome is not None:
                await evidence.give_up(session, evidence_id, status=outcome[0], reason=outcome[1])
            else:
                await evidence.retry_later(session, evidence_id, attempts + 1, now)
            await session.commit()
        if outcome is not None:
            log.info("evidence %d %s: %s", evidence_id, outcome[0], outcome[1])

    async def sweep(self) -> int:
        """Delete files whose form was never sent."""
        before = self.services.clock() - timedelta(days=ORPHAN_DAYS)
        async with self.db.writing(), self.db.sessions() as session:
            swept = await evidence.sweep(session, before)
            await session.commit()
        if swept:
            log.info("deleted %d files of forms never sent", swept)
        return swept
