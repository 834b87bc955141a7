"""The messenger's API failing for a while (429 with a wait, 5xx): replies queue and then
drain, each once, and each chat's in the order they were written."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.telegram_api import Failure, FakeTelegram
from tests.ordering import judge, numbered

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


async def test_replies_drain_in_order_after_the_api_fails_for_a_while(
    start_bot, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.outbox.SCAN_SECONDS", 0.2)
    failing = True
    turn = 0

    def outage(method: str) -> Failure | None:
        nonlocal turn
        if not failing or method != "sendMessage":
            return None
        turn += 1
        # Too many requests (with how long to wait) and bad gateways, in turn.
        return Failure(429, "Too Many Requests", 1) if turn % 2 else Failure(502, "Bad Gateway")

    fake_telegram.chaos = outage
    await start_bot()
    chats = [7_600_000 + i for i in range(3)]
    for n in range(1, 6):
        for chat in chats:
            await fake_telegram.deliver(fake_telegram.text_update(chat, numbered(n)))
    await asyncio.sleep(3.0)  # every first try failed; some retries too
    assert fake_telegram.messages == []
    failing = False

    deadline = asyncio.get_running_loop().time() + 40
    while len(fake_telegram.messages) < 15 and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    verdict = judge({str(c): 5 for c in chats}, fake_telegram.messages)
    assert verdict.clean, (verdict, fake_telegram.messages)
    assert len(fake_telegram.messages) == 15
