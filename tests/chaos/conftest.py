"""The chaos tests drive the dispatcher the way the dialogue tests do: the same fixtures
(`talk`, `dispatcher`, `database`, `clock`) from tests/handlers/conftest.py."""

from tests.handlers.conftest import clock, database, dispatcher, talk

__all__ = ["clock", "database", "dispatcher", "talk"]
