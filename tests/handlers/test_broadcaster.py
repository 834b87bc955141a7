"""The broadcaster's rules with a fixed clock and a recording channel, on both databases:
quiet hours, approval, pause and cancel, two processes sharing the work without a
duplicate; and the channel's budget (Pace)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from bot import broadcaster
from bot.broadcaster import Broadcaster
from bot.channels.base import Delivery, Pace, SendError, Unreachable
from bot.outbox import Sender
from bot.retention import Janitor
from bot.services import accounts
from bot.services import broadcasts as service
from bot.web.broadcasts import progress_data
from handlers.payloads import Privacy, Subscribe
from storage import broadcasts, people, subscriptions, unions
from storage.models import Broadcast, BroadcastDelivery, Officer
from tests.support import count

# 22:00 in Đà Lạt (UTC+7): inside the default quiet hours, 21:00-06:00.
NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
MORNING = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 06:00 the next day


class Recorder:
    """A messenger that takes every broadcast (and can refuse some)."""

    name = "telegram"
    keeps_history = False

    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        self.pace = Pace(0)
        self.sent: list[str] = []
        self.refuse = refuse or {}

    async def broadcast(self, delivery: Delivery) -> None:
        await asyncio.sleep(0)
        if delivery.chat_id in self.refuse:
            raise self.refuse[delivery.chat_id]
        self.sent.append(delivery.chat_id)

    async def send(self, delivery: Delivery) -> None:
        await self.broadcast(delivery)


async def seed(database, users: range, now: datetime) -> None:
    async with database.sessions() as session:
        for user in users:
            person = await people.create(session, "telegram", str(user), "vi", now)
            await subscriptions.subscribe(session, person.id, ["policy"], now)
        await session.commit()


async def compose(database, now: datetime, union: str = "CL-CAMLY", role: str = "admin") -> int:
    async with database.sessions() as session:
        officer = await accounts.add_officer(
            session, union_code=union, name="Cán bộ", role=role, now=now
        )
        found = await unions.by_code(session, union)
        draft = service.Draft(service.Audience(found.id), "Thông báo")
        broadcast = await service.compose(session, officer, draft, now)
        await session.commit()
        return broadcast.id


async def second_admin_approves(database, broadcast_id: int, now: datetime) -> Officer:
    """Another admin of the root approves a broadcast to the whole federation; them."""
    async with database.sessions() as session:
        admin = await accounts.add_officer(
            session, union_code="FED-ROOT", name="B", role="admin", now=now
        )
        await service.approve(session, admin, broadcast_id, now)
        await session.commit()
        return admin


async def settle_sends(engine: Broadcaster) -> None:
    """Let the sends started finish and write their outcomes."""
    await asyncio.gather(*engine._sends)
    await engine.flush()


async def run_until_done(engine: Broadcaster, channel: Recorder) -> None:
    await engine.tick()
    while await engine.deliver_some(channel):
        pass
    await settle_sends(engine)
    await engine.tick()


def engine_for(database, dispatcher, channel: Recorder, owner: str = "me") -> Broadcaster:
    sender = Sender(database, dispatcher.services, {})
    return Broadcaster(sender, {"telegram": channel}, owner=owner)


async def status(database, broadcast_id: int) -> str:
    async with database.sessions() as session:
        return (await session.get(Broadcast, broadcast_id)).status


async def test_nothing_starts_in_quiet_hours_and_it_starts_when_they_end(
    database, dispatcher, clock
):
    clock.now = NIGHT
    await seed(database, range(1, 4), NIGHT)
    # To the whole federation: every subscriber, once a second admin approved it.
    broadcast_id = await compose(database, NIGHT, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, NIGHT)
    channel = Recorder()
    engine = engine_for(database, dispatcher, channel)
    assert await engine.tick() == []
    assert await status(database, broadcast_id) == "scheduled"
    clock.now = MORNING
    await run_until_done(engine, channel)
    assert sorted(channel.sent) == ["1", "2", "3"]
    assert await status(database, broadcast_id) == "done"


def test_quiet_hours_over_midnight_and_within_a_day():
    night = (datetime.strptime("21:00", "%H:%M").time(), datetime.strptime("06:00", "%H:%M").time())
    assert service.quiet_until(NIGHT, night) == MORNING
    assert service.quiet_until(MORNING, night) is None
    assert service.quiet_until(NIGHT, None) is None
    noon = (datetime.strptime("12:00", "%H:%M").time(), datetime.strptime("13:00", "%H:%M").time())
    at_noon = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)  # 12:30 local
    assert service.quiet_until(at_noon, noon) == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    assert service.quiet_until(MORNING, noon) is None


async def test_waiting_for_approval_paused_and_cancelled_broadcasts_send_nothing(
    database, dispatcher, clock
):
    clock.now = MORNING
    await seed(database, range(10, 14), MORNING)
    whole = await compose(database, MORNING, union="FED-ROOT")
    channel = Recorder()
    engine = engine_for(database, dispatcher, channel)
    await run_until_done(engine, channel)
    assert channel.sent == [] and await status(database, whole) == "awaiting_approval"
    admin = await second_admin_approves(database, whole, MORNING)
    await engine.tick()  # started: recipients fixed
    async with database.sessions() as session:
        assert await service.change(session, admin, whole, "pause", MORNING)
        await session.commit()
    assert await engine.deliver_some(channel) == 0
    async with database.sessions() as session:
        assert await service.change(session, admin, whole, "resume", MORNING)
        await session.commit()
    assert await engine.deliver_some(channel) == 4
    await settle_sends(engine)
    assert sorted(channel.sent) == ["10", "11", "12", "13"]


async def test_cancelling_skips_what_was_not_sent(database, dispatcher, clock):
    clock.now = MORNING
    await seed(database, range(20, 23), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    admin = await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder()
    engine = engine_for(database, dispatcher, channel)
    await engine.tick()
    async with database.sessions() as session:
        assert await service.change(session, admin, broadcast_id, "cancel", MORNING)
        assert not await service.change(session, admin, broadcast_id, "resume", MORNING)
        await session.commit()
    assert await engine.deliver_some(channel) == 0
    assert (
        await count(database.sessions, BroadcastDelivery, BroadcastDelivery.reason == "cancelled")
        == 3
    )


async def test_two_processes_share_a_broadcast_without_a_duplicate(database, dispatcher, clock):
    clock.now = MORNING
    await seed(database, range(100, 400), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder()
    first, second = (engine_for(database, dispatcher, channel, owner) for owner in ("a", "b"))
    await first.tick()

    async def work(engine: Broadcaster) -> None:
        claimed = True
        while claimed:  # each round yields at its database calls
            claimed = bool(await engine.deliver_some(channel))
        await settle_sends(engine)

    await asyncio.gather(work(first), work(second))
    assert Counter(channel.sent) == {str(u): 1 for u in range(100, 400)}
    await first.tick()
    assert await status(database, broadcast_id) == "done"


async def test_refusals_are_recorded_by_reason(database, dispatcher, clock):
    clock.now = MORNING
    await seed(database, range(30, 35), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder({
        "30": Unreachable("window_closed"),
        "31": SendError("BadRequest", permanent=True),
        "32": SendError("Forbidden", permanent=True, gone=True),
        "33": SendError("TimedOut"),
    })  # fmt: skip
    engine = engine_for(database, dispatcher, channel)
    await run_until_done(engine, channel)
    async with database.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        report = await service.progress(session, found, MORNING)
        blocked = await people.find(session, "telegram", "32")
    assert (report.sent, report.unreachable, report.failed, report.pending) == (1, 2, 1, 1)
    assert report.reasons == {"window_closed": 1, "BadRequest": 1, "blocked": 1, "TimedOut": 1}
    assert blocked.blocked
    # The one that timed out is retried later, with backoff, and goes when it can.
    del channel.refuse["33"]
    clock.now = MORNING + timedelta(minutes=1)
    await run_until_done(engine, channel)
    assert channel.sent.count("33") == 1
    assert await status(database, broadcast_id) == "done"


async def test_a_messenger_down_for_long_gives_up_on_no_recipient(
    database, dispatcher, clock, monkeypatch
):
    # Every send fails for many more rounds than a recipient's tries allow: a messenger
    # that is down is not each recipient's failure, so nobody is given up on.
    monkeypatch.setattr("storage.outbox.BACKOFF_UNIT_SECONDS", 0.001)
    monkeypatch.setattr("storage.outbox.BACKOFF_CAP_SECONDS", 0.01)  # the pauses are real
    clock.now = MORNING
    await seed(database, range(40, 46), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    down = {str(user): SendError("TimedOut") for user in range(40, 46)}
    channel = Recorder(dict(down))
    engine = engine_for(database, dispatcher, channel)
    for round_ in range(3 * broadcaster.MAX_ATTEMPTS):
        clock.now = MORNING + timedelta(minutes=11 * (round_ + 1))
        await run_until_done(engine, channel)
    assert channel.sent == []
    channel.refuse.clear()
    clock.now += timedelta(minutes=11)
    await run_until_done(engine, channel)
    assert sorted(channel.sent) == sorted(down)
    assert await status(database, broadcast_id) == "done"


async def test_one_recipient_failing_alone_is_given_up_after_its_tries(
    database, dispatcher, clock, monkeypatch
):
    monkeypatch.setattr("storage.outbox.BACKOFF_UNIT_SECONDS", 0.001)
    clock.now = MORNING
    await seed(database, range(50, 56), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder({"50": SendError("BadGateway")})
    engine = engine_for(database, dispatcher, channel)
    for round_ in range(broadcaster.MAX_ATTEMPTS + 1):
        clock.now = MORNING + timedelta(minutes=11 * (round_ + 1))
        await run_until_done(engine, channel)
    async with database.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        report = await service.progress(session, found, clock.now)
    assert (report.sent, report.failed, report.pending) == (5, 1, 0)
    assert report.reasons == {"gave_up: BadGateway": 1}


async def test_an_officer_cannot_broadcast_beyond_their_subtree(database, dispatcher, clock):
    async with database.sessions() as session:
        officer = await accounts.add_officer(
            session, union_code="CL-CAMLY", name="C", role="officer", now=clock.now
        )
        other = await unions.by_code(session, "CL-LAMVIEN")
        draft = service.Draft(service.Audience(other.id), "Tin")
        try:
            await service.compose(session, officer, draft, clock.now)
            raise AssertionError("composed outside the subtree")
        except service.BroadcastError:
            pass
        for bad in (
            service.Draft(service.Audience(other.id), "   "),
            service.Draft(service.Audience(other.id, topic="football"), "Tin"),
            service.Draft(service.Audience(other.id), "Tin", link="javascript:alert(1)"),
            service.Draft(service.Audience(other.id), "x" * 5000),
        ):
            try:
                service.clean(bad)
                raise AssertionError(f"accepted {bad}")
            except service.BroadcastError:
                pass
    assert await count(database.sessions, Broadcast) == 0


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_pace_gives_replies_priority_and_honours_a_pause():
    ticks = Ticks()
    pace = Pace(10, chat_gap=1.0, clock=ticks)
    assert pace.capacity == 1.0
    assert await pace.take(5) == 1  # a tenth of a second's worth at most
    ticks.now = 0.1
    pace.spend("42")  # a reply: never waits, but the broadcast's next token comes later
    assert pace.chat_wait("42") == 1.0
    ticks.now = 0.15
    waiting = asyncio.create_task(pace.take(1))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    ticks.now = 0.3
    assert await asyncio.wait_for(waiting, 1) == 1
    pace.pause(5)
    blocked = asyncio.create_task(pace.take(1))
    await asyncio.sleep(0.02)
    assert not blocked.done()
    ticks.now = 6
    assert await asyncio.wait_for(blocked, 1) == 1
    ticks.now = 7.2
    assert pace.chat_wait("42") == 0.0
    unlimited = Pace(0)
    assert await unlimited.take(100) == 100


async def test_the_janitor_forgets_who_got_a_finished_broadcast_and_keeps_its_counts(
    database, dispatcher, clock
):
    clock.now = MORNING
    await seed(database, range(40, 44), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder({"41": Unreachable("window_closed")})
    await run_until_done(engine_for(database, dispatcher, channel), channel)
    janitor = Janitor(dispatcher.services, Sender(database, dispatcher.services, {}))
    clock.now = MORNING + timedelta(days=89)
    assert (await janitor.run_once()).deliveries == 0
    clock.now = MORNING + timedelta(days=91)
    assert (await janitor.run_once()).deliveries == 4
    assert await count(database.sessions, BroadcastDelivery) == 0
    async with database.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        report = await service.progress(session, found, clock.now)
        sent = await broadcasts.sent_counts(session, [broadcast_id])
    assert (report.total, report.sent, report.unreachable) == (4, 3, 1)
    assert report.reasons == {"window_closed": 1} and sent == {broadcast_id: 3}


async def test_who_stops_during_a_broadcast_gets_nothing_more(
    database, dispatcher, clock, talk, monkeypatch
):
    """Stopping works at once, also for a broadcast already under way: whatever of it was
    still to be sent to them is skipped, counted as "stopped"; everyone else gets it."""
    clock.now = MORNING
    await seed(database, range(50, 58), MORNING)
    broadcast_id = await compose(database, MORNING, union="FED-ROOT")
    await second_admin_approves(database, broadcast_id, MORNING)
    channel = Recorder()
    engine = engine_for(database, dispatcher, channel)
    await engine.tick()  # the recipients are fixed: all eight
    monkeypatch.setattr(broadcaster, "BATCH", 2)
    assert await engine.deliver_some(channel) == 2
    await settle_sends(engine)
    assert sorted(channel.sent) == ["50", "51"]
    # Mid-way: three stop in each way there is, one erases their data, one turns off
    # another topic only (and still gets this one).
    await talk("53", "telegram").say("/dung")
    await talk("54", "telegram").say("dừng")
    await talk("55", "telegram").press_payload(Subscribe("off", "policy").pack())
    await talk("56", "telegram").press_payload(Privacy("erase").pack())
    async with database.sessions() as session:
        other = await people.find(session, "telegram", "52")
        await subscriptions.subscribe(session, other.id, ["support"], MORNING)
        await session.commit()
    await talk("52", "telegram").press_payload(Subscribe("off", "support").pack())
    monkeypatch.setattr(broadcaster, "BATCH", 100)
    await run_until_done(engine, channel)
    assert sorted(channel.sent) == ["50", "51", "52", "57"]
    assert await status(database, broadcast_id) == "done"
    async with database.sessions() as session:
        found = await session.get(Broadcast, broadcast_id)
        report = await service.progress(session, found, clock.now)
    assert (report.total, report.sent, report.skipped, report.pending) == (8, 4, 4, 0)
    assert report.reasons == {"stopped": 3, "erased": 1}
    with dispatcher.services.catalogs.activate("vi"):
        shown = {r["reason"]: r["label"] for r in progress_data(found, report)["reasons"]}
    assert shown == {
        "stopped": "đã dừng nhận tin trước khi tin đến lượt họ",
        "erased": "đã xoá dữ liệu của mình",
    }


async def test_every_broadcast_on_the_root_union_waits_for_a_second_admin(database, clock):
    """Narrowed by wards or workplaces, the root union's audience still spans the whole
    federation (every ward ticked reaches whoever filed anywhere): a second admin approves
    it, however it is narrowed. Below the root, nobody needs to."""
    async with database.sessions() as session:
        admin = await accounts.add_officer(
            session, union_code="FED-ROOT", name="A", role="admin", now=clock.now
        )
        root = await unions.by_code(session, "FED-ROOT")
        cluster = await unions.by_code(session, "CL-CAMLY")
        workplaces, wards = await unions.places(session, None)
        every_ward = frozenset(i for i, _name in wards)
        every_workplace = frozenset(i for i, _name in workplaces)
        for audience in (
            service.Audience(root.id),
            service.Audience(root.id, wards=every_ward),
            service.Audience(root.id, workplaces=every_workplace),
            service.Audience(root.id, wards=every_ward, workplaces=every_workplace),
            service.Audience(root.id, wards=frozenset(sorted(every_ward)[:1])),
            service.Audience(root.id, languages=frozenset({"vi"})),
        ):
            assert await service.is_whole_federation(session, audience), audience
            draft = service.Draft(audience, "Thông báo")
            broadcast = await service.compose(session, admin, draft, clock.now)
            assert (broadcast.status, broadcast.whole_federation) == ("awaiting_approval", True)
        below = service.Audience(cluster.id, wards=every_ward)
        assert not await service.is_whole_federation(session, below)
        broadcast = await service.compose(session, admin, service.Draft(below, "Tin"), clock.now)
        assert (broadcast.status, broadcast.whole_federation) == ("scheduled", False)
