"""How long the outbox keeps trying a message the messenger will not take, on both
databases: a messenger down for hours loses no reply; a message it keeps failing is given up
only once it has been tried for a day or two, and one it refuses for good at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import outbox
from storage.models import OutboxItem
from tests.support import TEST_VAULT

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # 09:30 in Đà Lạt


async def written(session, at: datetime) -> int:
    row = outbox.message(channel="telegram", chat_id="501", person_id=None, now=at,
                         sealed=TEST_VAULT.seal('{"text": "Chào bạn", "buttons": []}'))  # fmt: skip
    [message_id] = await outbox.add(session, [row])
    return message_id


async def fail(session, message_id: int, tries: int, now: datetime, **kwargs) -> bool:
    """Record `tries` failed sends, ten minutes apart, ending at `now`; whether given up."""
    gave_up = False
    for n in range(tries):
        at = now - timedelta(minutes=10 * (tries - 1 - n))
        gave_up = await outbox.record_failure(session, message_id, "NetworkError", at, **kwargs)
    return gave_up


async def test_a_messenger_down_for_hours_gives_up_on_no_message(sessions) -> None:
    async with sessions() as session:
        message_id = await written(session, NOW)
        # Ten hours of tries (waits at the ten-minute cap): far past the old eight tries.
        assert not await fail(session, message_id, 60, NOW + timedelta(hours=10), permanent=False)
        row = await session.get(OutboxItem, message_id)
        assert row is not None and row.attempts == 60 and not row.failed
        assert row.sealed is not None  # still there to send
        assert row.next_attempt_at is not None
        # The next day, with many more tries: still not given up.
        assert not await fail(session, message_id, 100, NOW + timedelta(days=1), permanent=False)


async def test_a_message_failing_for_two_days_is_given_up(sessions) -> None:
    async with sessions() as session:
        message_id = await written(session, NOW - timedelta(days=2))
        assert not await fail(session, message_id, outbox.MAX_ATTEMPTS - 1, NOW, permanent=False)
        assert await fail(session, message_id, 1, NOW, permanent=False)
        row = await session.get(OutboxItem, message_id)
        assert row is not None and row.failed and row.sealed is None


async def test_a_refused_message_is_given_up_at_once(sessions) -> None:
    async with sessions() as session:
        message_id = await written(session, NOW)
        assert await fail(session, message_id, 1, NOW, permanent=True)
