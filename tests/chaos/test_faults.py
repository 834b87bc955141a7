"""Faults under load with real processes: bot processes killed at random moments, and the
database stopped and started again. Nothing acknowledged is lost, nothing is processed twice,
each chat's replies keep their order; a killed process may repeat a send it made just before
it died (counted). bench/chaos.py runs more trials of the same."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.trials import kill_trials, restart_trial
from tests.fakes.telegram_api import FakeTelegram
from tests.fixtures.private_pg import PrivatePostgres, server_binaries
from tests.fixtures.processes import Cluster
from tests.support import IN_CI

TRIALS = 4


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_processes_killed_under_load_lose_and_repeat_nothing(
    bots: Cluster, fake_telegram: FakeTelegram
) -> None:
    await bots.start()
    await bots.start()
    result = await kill_trials(bots, fake_telegram, TRIALS)
    assert result.updates > 50  # the load really ran
    assert result.lost == 0, result
    assert result.processed_twice == 0, result
    assert result.reordered == 0, result
    # Sends a process made but had not yet marked when it was killed go again: the marks
    # are committed one round trip after the answers, about one per kill on average
    # (bench/chaos.py measures it over 20 kills). A kill in a process's first second, while
    # it still opens its connections, can leave a few more: hence the margin over 4 kills.
    assert result.duplicate_sends <= 3 * TRIALS, result


@pytest.fixture
def private_database() -> Iterator[PrivatePostgres]:
    if server_binaries() is None:
        if IN_CI:
            pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    server = PrivatePostgres.create()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


async def test_a_database_restart_is_waited_out(
    private_database: PrivatePostgres, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    bots = Cluster(private_database.url, fake_telegram, tmp_path, {"UNIONBOT_AUTO_UPGRADE": "true"})
    try:
        await bots.start()
        await bots.start()
        result, recovery = await restart_trial(bots, fake_telegram, private_database)
        # While it was away, webhooks said 503 (the messenger retries), not 200 or 500.
        assert result.refusals.get(503, 0) > 0, result
        assert 500 not in result.refusals, result
        assert result.lost == 0, result
        assert result.processed_twice == 0, result
        assert result.reordered == 0, result
        assert recovery < 30, recovery
        assert all(p.process.poll() is None for p in bots.processes)  # nobody crashed
    finally:
        await asyncio.to_thread(bots.stop_all)
