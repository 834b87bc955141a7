"""Logging without personal data.

Exception messages can carry what a worker wrote (a database error quotes the row, a parse
error quotes the text), so failures are logged as the exception's class and the code
locations of its traceback, never its message; except that a database refusing a write for
want of room says so (its message there is fixed text), since that is what the operator must
act on.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback

# PostgreSQL's SQLSTATE for "disk full".
DISK_FULL_SQLSTATE = "53100"

# Third-party loggers kept at WARNING: their INFO and DEBUG lines quote requests and queries
# (aiosqlite's DEBUG lines hold every statement with its parameters: ids, payloads, names).
NOISY = ("httpx", "telegram", "aiohttp.access", "sqlalchemy", "alembic", "aiosqlite")


def describe(exc: BaseException) -> str:
    """'ValueError at handlers/menu.py:42 in show <- bot/dispatch.py:120 in handle'."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(
        f"{_short(frame.filename)}:{frame.lineno} in {frame.name}"
        for frame in reversed(frames[-6:])
    )
    full = " (the database or disk is full)" if database_full(exc) else ""
    return f"{type(exc).__name__}{full}" + (f" at {where}" if where else "")


def database_full(exc: BaseException) -> bool:
    """Whether the database refused a write for want of room: SQLite's SQLITE_FULL (the disk,
    or its max_page_count) or PostgreSQL's disk_full, raised as is or wrapped (SQLAlchemy
    keeps the driver's error in `orig`, asyncpg's adapter in `__cause__`)."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if getattr(found, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(found, "sqlstate", None) == DISK_FULL_SQLSTATE:
            return True
        found = getattr(found, "orig", None) or found.__cause__
    return False


def _short(path: str) -> str:
    for marker in ("/bot/", "/handlers/", "/storage/", "/site-packages/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return path.rsplit("/", 1)[-1]


def setup(level: int = logging.INFO) -> None:
    """Plain one-line logs on stderr; third-party chatter kept at WARNING."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
