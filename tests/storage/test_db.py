"""The embedded SQLite database is private to the bot's user: its folder, its file and the
WAL files beside it are made readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from storage import db


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_folder_are_private(tmp_path):
    folder = tmp_path / "data"
    path = folder / "unionbot.db"
    old_umask = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        database = db.Database.open(f"sqlite+aiosqlite:///{path}")
        try:
            async with database.writing(), database.engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                # Still open: the write-ahead log and its index exist now.
                assert (folder / "unionbot.db-wal").exists()
                assert (folder / "unionbot.db-shm").exists()
                for name in ("unionbot.db", "unionbot.db-wal", "unionbot.db-shm"):
                    assert mode(folder / name) == 0o600, name
        finally:
            await database.close()
    finally:
        os.umask(old_umask)
    assert mode(folder) == 0o700


async def test_an_existing_database_keeps_its_permissions(tmp_path):
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)  # chosen by an administrator (say, for a backup group): left alone
    database = db.Database.open(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await database.close()
    assert mode(path) == 0o640
