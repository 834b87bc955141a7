"""Logging without personal data (bot/logs.py): an exception is logged as its class and where
it was raised, never its message; a database refusing a write for want of room says so."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.logs import database_full, describe


def test_a_full_sqlite_database_is_named_and_nothing_else_of_its_error() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
        connection.execute(text("PRAGMA max_page_count = 1"))  # no room beyond its size
    with pytest.raises(OperationalError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO notes VALUES (:body)"), {"body": "Lan 0912" * 999})
    assert database_full(raised.value)
    said = describe(raised.value)
    assert said.startswith("OperationalError (the database or disk is full) at ")
    assert "INSERT" not in said and "0912" not in said


def test_other_database_errors_are_not_called_full() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (phone TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES ('0912345678')"))
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO people VALUES ('0912345678')"))
    assert not database_full(raised.value)
    assert describe(raised.value).startswith("IntegrityError at ")
    assert "0912345678" not in describe(raised.value)


def test_a_full_postgresql_disk_is_named_too() -> None:
    full = asyncpg.exceptions.DiskFullError('could not extend file "base/16384/2619"')
    assert database_full(full)
    # As SQLAlchemy raises it: the driver's error as the cause.
    try:
        try:
            raise full
        except asyncpg.PostgresError as exc:
            raise OperationalError("INSERT INTO inbox ...", {}, exc) from exc
    except OperationalError as wrapped:
        assert database_full(wrapped)
    assert not database_full(asyncpg.exceptions.UniqueViolationError("duplicate key"))


def test_a_message_never_reaches_the_log() -> None:
    try:
        raise ValueError("Nguyễn Thị Lan, 0912345678")
    except ValueError as exc:
        said = describe(exc)
    assert said.startswith("ValueError at ") and "Lan" not in said and "0912" not in said
