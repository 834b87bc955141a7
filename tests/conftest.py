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

import pytest

# Plain modules whose asserts should read as well as a test's when they fail.
pytest.register_assert_rewrite("tests.support", "tests.scenarios")

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.configuration",
    "tests.fixtures.running_bot",
    "tests.fixtures.browser",
    "tests.fixtures.processes",
]
