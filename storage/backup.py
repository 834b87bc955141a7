"""Backing up a SQLite database and restoring one (`unionbot db backup|restore`).

Both copy through SQLite's online backup API: it reads one consistent snapshot while
`unionbot serve` goes on writing (WAL mode), and writes through the target's own -wal and
-shm files. A backup is written under a temporary name beside FILE and renamed at the end,
so a half-written one never bears FILE's name. A restore takes the lock the serving process
holds (`lock_path`), so it never pulls a database from under a running bot.

PostgreSQL has its own tools (pg_dump, pg_restore); `libpq_url` names the database for them.
Nothing here reads the encryption key: it lives outside the database, so no copy holds it.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

from storage import db

# Seconds to wait for the serving process's write to end before a snapshot can start.
BUSY_TIMEOUT_SECONDS = db.SQLITE_BUSY_TIMEOUT_MS / 1000


class BackupError(Exception):
    """A backup or restore that was not made; nothing was changed. The subclass says why."""

    def __init__(self, path: Path, detail: str = "") -> None:
        super().__init__(f"{path}: {detail}" if detail else str(path))
        self.path = path
        self.detail = detail


class Missing(BackupError):
    """No database file at `path`."""


class NoFolder(BackupError):
    """The folder the backup should go in does not exist."""


class SameFile(BackupError):
    """The copy would overwrite the database it is made from."""


class NotOurs(BackupError):
    """`path` is no SQLite database of this bot (no alembic_version table); `detail` is
    SQLite's reason."""


class UnknownRevision(BackupError):
    """The backup's schema revision (`detail`) is none of this version's migrations: a newer
    version of the bot made it."""


class NotEmpty(BackupError):
    """The restore's target holds a database already (and --force was not given)."""


class InUse(BackupError):
    """A bot process is serving the target database (it holds `lock_path`)."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite DATABASE_URL; None for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database or "")


def libpq_url(url: str) -> str:
    """The PostgreSQL DATABASE_URL as pg_dump and pg_restore take it: without the driver,
    the password (PGPASSWORD or ~/.pgpass give it) and asyncpg's own parameters."""
    parsed = make_url(url)
    bare = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database
    )
    return bare.render_as_string(hide_password=False)


# The file a serving process holds an exclusive flock on while it uses a database
# (storage/db.py `sole_process`).
lock_path = db.lock_path


def back_up(source: Path, target: Path) -> None:
    """Copy the database at `source` into `target`, readable by its owner only. A `target`
    that exists is replaced only once the new copy is complete."""
    if not source.is_file():
        raise Missing(source)
    if target.exists() and target.samefile(source):
        raise SameFile(target)
    if not target.parent.is_dir():
        raise NoFolder(target.parent)
    # mkstemp makes the file readable by its owner only, before anything is written to it.
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    partial = Path(name)
    try:
        with closing(_connect(source, "rw")) as live, closing(sqlite3.connect(partial)) as copy:
            try:
                live.backup(copy)  # all pages in one step: one snapshot
            except sqlite3.DatabaseError as exc:
                raise NotOurs(source, str(exc)) from None
            # One self-contained file: no -wal beside it to lose when it is copied away.
            copy.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, target)
    finally:
        for leftover in (partial, *_sidecars(partial)):
            leftover.unlink(missing_ok=True)
    _sync_folder(target.parent)


def revisions(backup: Path) -> list[str]:
    """The schema revisions of the bot database at `backup`, checked to be this version's
    (an older one is fine: the restore upgrades it)."""
    if not backup.is_file():
        raise Missing(backup)
    try:
        with closing(_connect(backup, "ro")) as source:
            found = [row[0] for row in source.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError as exc:
        raise NotOurs(backup, str(exc)) from None
    if not found:
        raise NotOurs(backup, "alembic_version is empty")
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    known = {migration.revision for migration in script.walk_revisions()}
    for revision in found:
        if revision not in known:
            raise UnknownRevision(backup, revision)
    return found


@contextmanager
def exclusive(db_file: Path) -> Iterator[None]:
    """Hold the lock a serving process holds on `db_file` (made if missing); InUse at once
    when a process holds it."""
    try:
        with db.locked(db_file):
            yield
    except db.InUse:
        raise InUse(db_file) from None


def restore(backup: Path, target: Path, *, force: bool) -> None:
    """Copy the backup at `backup` over the database file `target` (hold `exclusive(target)`
    around it). A `target` that holds a database is overwritten only with `force`."""
    if target.exists() and target.samefile(backup):
        raise SameFile(target)
    if not force and target.exists() and target.stat().st_size > 0:
        raise NotEmpty(target)
    db.make_private_file(target)
    with closing(_connect(backup, "ro")) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
        # Fold what went through the target's -wal into the file itself.
        copy.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.chmod(target, 0o600)  # an existing file too: it now holds the backup's data


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """A connection to an existing file (mode 'ro' or 'rw' never creates one)."""
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-journal", "-wal", "-shm")]


def _sync_folder(folder: Path) -> None:
    """Make the rename durable: it lives in the folder's entry, not in the file."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        with suppress(OSError):  # some file systems cannot sync a folder
            os.fsync(handle)
    finally:
        os.close(handle)
