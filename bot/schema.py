"""The database a process starts on: its schema brought to the head revision (embedded
default) or checked, and on the embedded default's first start the sample directory.

Apart from bot.app so that the command line can use them without loading the whole app."""

from __future__ import annotations

import logging

from bot.config import ConfigError, Settings
from storage import db, unions
from storage.directory import load as load_directory

log = logging.getLogger(__name__)


async def ensure_schema(database: db.Database, settings: Settings) -> None:
    """Upgrade the schema (embedded default) or refuse to run on an outdated one."""
    if settings.auto_upgrade:
        await db.upgrade(database.engine)
    elif not await db.is_current(database.engine):
        raise ConfigError("the database schema is not current: run `unionbot db upgrade`")


async def seed_directory(database: db.Database, settings: Settings) -> None:
    """On first start of the embedded default, import the sample directory."""
    if settings.seed_directory is None:
        return
    async with database.writing(), database.sessions() as session:
        if await unions.count(session):
            return
        report = await unions.import_directory(session, load_directory(settings.seed_directory))
        await session.commit()
    log.info("imported the sample directory (%d entries)", report.total)
