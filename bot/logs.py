"""Logging without personal data.

Exception messages can carry what a worker wrote (a database error quotes the row, a parse
error quotes the text), so failures are logged as the exception's class and the code
locations of its traceback, never its message.
"""

from __future__ import annotations

import logging
import traceback

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
    return f"{type(exc).__name__}" + (f" at {where}" if where else "")


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
