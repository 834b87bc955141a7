"""Where the suite's fixtures live (see tests/README.md for the layout):

- tests/fixtures/databases.py: `db_url` (each test on SQLite, then PostgreSQL, copied from
  templates migrated once per session), `engine`, `sessions`.
- tests/fixtures/configuration.py: `settings` on the test database, `knowledge`, `clock_now`.
- tests/fixtures/running_bot.py: `start_bot` (the real app over HTTP) and `fake_telegram`
  (the fake Bot API of tests/fakes/).
- tests/fixtures/browser.py: `browser`, headless Chromium through Playwright.
- tests/fixtures/processes.py: `bots`, real `unionbot serve` processes on the test database.

Closer to their tests: tests/handlers/conftest.py (`talk`, `dispatcher`, `database`, `clock`:
dialogues with the dispatcher) and tests/web/conftest.py (`dashboard`). Constants and helpers
to import are in tests/support.py; dialogue steps shared by several files in tests/scenarios.py.
"""

import dataclasses
from pathlib import Path
from typing import ClassVar

import pytest
from argon2 import PasswordHasher

import bot.services
from bot.services import accounts, i18n
from bot.services.knowledge import Knowledge

# Plain modules whose asserts should read as well as a test's when they fail.
pytest.register_assert_rewrite("tests.support", "tests.scenarios")

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.configuration",
    "tests.fixtures.running_bot",
    "tests.fixtures.browser",
    "tests.fixtures.processes",
]


# The bot's argon2id settings cost about 0.1 s per password hashed or checked, by design;
# the suite hashes and checks thousands (every dashboard test adds three officers and logs
# in). Tests hash with the cheapest settings instead: the same code and hash format (a hash
# names its own settings, so one made either way verifies), in a millisecond. Real `unionbot`
# processes started by tests keep the bot's settings; one test checks them.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
BOT_HASHER = accounts._hasher


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", FAST_HASHER)


class RememberedKnowledge:
    """What the app's start-up (Services.load) calls as Knowledge.load: reading the articles
    and the model takes about 0.4 s, and the suite starts the app hundreds of times on the
    same content. The same files (wherever the content folder is: some tests link to the
    real one) give a copy of what was read before, with matchers of its own (officers'
    lessons swap a matcher in). Knowledge.load called directly, as the matcher's own tests
    do, still reads everything."""

    READ = ("taxonomy.yaml", "vocabulary.yaml", "faq", "training")  # what Knowledge reads
    _read: ClassVar[dict[tuple[object, ...], Knowledge]] = {}

    @classmethod
    def load(cls, content_dir: Path, cache_dir: Path | None = None, lessons=None) -> Knowledge:
        if lessons:
            return Knowledge.load(content_dir, cache_dir, lessons)
        key = (cache_dir, *cls._files(Path(content_dir)))
        if key not in cls._read:
            cls._read[key] = Knowledge.load(content_dir, cache_dir)
        read = cls._read[key]
        return dataclasses.replace(read, matchers=dict(read.matchers), content_dir=content_dir)

    @classmethod
    def _files(cls, content_dir: Path) -> list[tuple[str, int, int]]:
        found = []
        for name in cls.READ:
            top = (content_dir / name).resolve()
            for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
                if path.is_file():
                    stat, name_there = path.stat(), str(path.relative_to(top.parent))
                    found.append((name_there, stat.st_mtime_ns, stat.st_size))
        return found


@pytest.fixture(autouse=True)
def _knowledge_read_once(monkeypatch):
    monkeypatch.setattr(bot.services, "Knowledge", RememberedKnowledge)


_COMPILE_PO = i18n.compile_po
_compiled: dict[tuple[str, int, int], object] = {}


def remembered_compile_po(path: Path):
    """i18n.compile_po once per .po file as it is (0.07 s each, two per app start)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _compiled:
        _compiled[key] = _COMPILE_PO(path)
    return _compiled[key]


@pytest.fixture(autouse=True)
def _catalogs_compiled_once(monkeypatch):
    monkeypatch.setattr(i18n, "compile_po", remembered_compile_po)
