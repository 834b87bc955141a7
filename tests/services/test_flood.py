"""Flood control (bot/services/flood.py): a message is counted once, however often the inbox
worker handles it (its transaction failed: a batch redone one by one, a database away or
full). Counted at each try, a message retried through a minute of a full disk went over the
limit and was marked done unanswered (tests/chaos/test_disk_full.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.flood import FloodGuard, Verdict

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WHO = ("telegram", "901")


def test_a_message_handled_again_is_not_counted_again() -> None:
    guard = FloodGuard(3)
    for _try in range(20):
        assert guard.check(WHO, NOW, "1") is Verdict.OK
        assert guard.check(WHO, NOW, "2") is Verdict.OK
    assert guard.check(WHO, NOW, "3") is Verdict.OK
    # Over the limit: handled again, a message gets the verdict it got the first time.
    assert [guard.check(WHO, NOW, "4") for _try in range(3)] == [Verdict.WARN] * 3
    assert [guard.check(WHO, NOW, "5") for _try in range(3)] == [Verdict.DROP] * 3
    assert guard.check(("telegram", "902"), NOW, "1") is Verdict.OK  # another person's


def test_messages_without_an_id_are_each_counted() -> None:
    guard = FloodGuard(2)
    verdicts = [guard.check(WHO, NOW) for _message in range(4)]
    assert verdicts == [Verdict.OK, Verdict.OK, Verdict.WARN, Verdict.DROP]
