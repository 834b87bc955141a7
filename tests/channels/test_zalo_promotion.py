"""Broadcasts to Zalo followers outside the free 48-hour window, as promotion messages (tin
truyền thông): the real Zalo channel and broadcaster against the fake Zalo API, on both
databases, with one fixed clock for the bot and for Zalo. Inside the window a broadcast is
still a consultation message; outside Zalo's promotional hours, or past the day's quota, a
delivery waits and goes when they allow; past the month's it is reported with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.broadcaster import Broadcaster
from bot.channels.base import Delivery
from bot.channels.zalo import ZaloChannel, ZaloTokens, promotion, promotion_opens
from bot.config import Settings
from bot.inbox import InboxWriter
from bot.outbox import Sender
from bot.services import Services, accounts, reach
from bot.services import broadcasts as service
from bot.services.i18n import Catalogs
from bot.services.knowledge import Knowledge
from bot.web.broadcasts import progress_data
from storage import db, people, promotions, subscriptions, unions
from storage.directory import load as load_directory
from storage.models import Broadcast, BroadcastDelivery, Person, PromotionSend
from tests.fakes.zalo_api import FakeZalo
from tests.support import SAMPLE_DIRECTORY, TEST_VAULT, jpeg_with_gps

# 09:30 in Đà Lạt (UTC+7), a Monday.
MORNING = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
NIGHT = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)  # 22:30: outside the promotional hours
NEXT_OPENING = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # 06:00 the next day
FOOTER = "Để không nhận các tin này nữa, bạn gửi /dung."


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Zalo:
    """The bot's Zalo side: its channel, its broadcaster, the database, the clock."""

    database: db.Database
    services: Services
    channel: ZaloChannel
    engine: Broadcaster
    clock: Clock
    fake: FakeZalo

    async def run(self) -> None:
        """Start what is due, send what may go now, record it, finish what is done."""
        await self.engine.tick()
        while await self.engine.deliver_some(self.channel):
            pass
        await asyncio.gather(*self.engine._sends)
        await self.engine.flush()
        await self.engine.tick()

    async def follower(self, user: str, last_wrote: timedelta) -> None:
        async with self.database.sessions() as session:
            person = await people.create(session, "zalo", user, "vi", self.clock.now)
            await reach.heard(session, TEST_VAULT, person, self.clock.now - last_wrote)
            await subscriptions.subscribe(session, person.id, ["policy"], self.clock.now)
            await session.commit()

    async def broadcast(self, text: str, image: bytes | None = None) -> int:
        """A broadcast to the whole federation, approved by a second admin: its id."""
        now = self.clock.now
        async with self.database.sessions() as session:
            admin, second = [
                await accounts.add_officer(
                    session, union_code="FED-ROOT", name=name, role="admin", now=now
                )
                for name in ("A", "B")
            ]
            root = await unions.root(session)
            picture = service.picture(image) if image is not None else None
            draft = service.Draft(service.Audience(root.id), text, image=picture)
            broadcast = await service.compose(session, admin, draft, now)
            await service.approve(session, second, broadcast.id, now)
            await session.commit()
            return broadcast.id

    async def outcomes(self, broadcast_id: int) -> dict[str, tuple[str, str | None]]:
        async with self.database.sessions() as session:
            rows = await session.execute(
                select(Person.channel_user_id, BroadcastDelivery.status, BroadcastDelivery.reason)
                .join(Person, Person.id == BroadcastDelivery.person_id)
                .where(BroadcastDelivery.broadcast_id == broadcast_id)
            )
            return {chat: (status, reason) for chat, status, reason in rows}

    async def counted(self) -> int:
        async with self.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(PromotionSend)))

    async def statuses(self, broadcast_id: int) -> dict[str, str]:
        """Each recipient's status (a row sent after waiting keeps why it waited)."""
        return {chat: status for chat, (status, _) in (await self.outcomes(broadcast_id)).items()}

    async def status(self, broadcast_id: int) -> str:
        async with self.database.sessions() as session:
            return (await session.get(Broadcast, broadcast_id)).status

    async def reasons(self, broadcast_id: int) -> dict[str, str]:
        """The reasons the progress page shows, by code (in English, the msgids)."""
        async with self.database.sessions() as session:
            found = await session.get(Broadcast, broadcast_id)
            report = await service.progress(session, found, self.clock.now)
        with self.services.catalogs.activate("en"):
            return {r["reason"]: r["label"] for r in progress_data(found, report)["reasons"]}


def zalo_settings(settings: Settings, fake: FakeZalo, **changes: object) -> Settings:
    zalo = dict(
        zalo_app_id=fake.app_id, zalo_app_secret=fake.app_secret,
        zalo_oa_secret_key=fake.oa_secret, zalo_access_token=fake.access_token,
        zalo_refresh_token=fake.refresh_token, zalo_api_base=fake.api_base,
        zalo_oauth_base=fake.oauth_base, zalo_promotion_broadcasts=True, quiet_hours=None,
        zalo_broadcast_per_second=0.0, chat_gap_seconds=0.0,
    )  # fmt: skip
    return settings.with_(**{**zalo, **changes})


async def nothing(reason: str) -> None:
    return None


def zalo_side(
    settings: Settings,
    database: db.Database,
    services: Services,
    http: aiohttp.ClientSession,
    fake: FakeZalo,
    owner: str = "me",
) -> Zalo:
    """A process's Zalo channel and broadcaster (a second one stands for a restart)."""
    vault = TEST_VAULT

    async def recipients(chat_ids):
        async with database.sessions() as session:
            return await reach.recipients(session, vault, "zalo", chat_ids)

    tokens = ZaloTokens(
        settings, http, database, seal=vault.seal, reveal=vault.open, on_broken=nothing
    )
    channel = ZaloChannel(
        settings, http, InboxWriter(database, services, lambda: None), database, tokens,
        seal=vault.seal, reveal=vault.open, tag=vault.tag, recipients=recipients,
        number_hint=lambda language: "Bạn gõ số của lựa chọn.", clock=services.clock,
    )  # fmt: skip
    sender = Sender(database, services, {"zalo": channel})
    engine = Broadcaster(sender, {"zalo": channel}, owner=owner)
    return Zalo(database, services, channel, engine, services.clock, fake)  # type: ignore[arg-type]


@pytest.fixture
async def make_zalo(
    settings: Settings, fake_zalo: FakeZalo, knowledge: Knowledge
) -> AsyncIterator[object]:
    """make_zalo(**settings changes) -> Zalo, at MORNING; again for a restarted process."""
    clock = Clock(MORNING)
    fake_zalo.clock = clock
    database = db.Database.open(settings.database_url)
    async with database.sessions() as session:
        await unions.import_directory(session, load_directory(SAMPLE_DIRECTORY))
        await session.commit()
    http = aiohttp.ClientSession()
    catalogs = Catalogs(settings.content_dir / "locales")
    made: list[Zalo] = []

    def make(owner: str = "me", **changes: object) -> Zalo:
        bot_settings = zalo_settings(settings, fake_zalo, **changes)
        services = Services(bot_settings, catalogs, knowledge, TEST_VAULT, clock)
        made.append(zalo_side(bot_settings, database, services, http, fake_zalo, owner))
        return made[-1]

    yield make
    await http.close()
    await database.close()


async def test_outside_the_window_a_follower_gets_a_promotion_message_inside_a_consultation(
    make_zalo, fake_zalo
):
    zalo = make_zalo()
    await zalo.follower("z-1", timedelta(days=1))  # inside the free window
    await zalo.follower("z-2", timedelta(days=3))  # a reply would be billed
    await zalo.follower("z-3", timedelta(days=30))  # no reply would go at all
    sent = await zalo.broadcast("Lương tối thiểu vùng tăng\nTừ 1/1/2027 lương tối thiểu tăng.")
    await zalo.run()
    assert await zalo.status(sent) == "done"
    assert await zalo.outcomes(sent) == {u: ("sent", None) for u in ("z-1", "z-2", "z-3")}
    assert [fake_zalo.text_of(m) for m in fake_zalo.sent("z-1")] == [
        "Lương tối thiểu vùng tăng\nTừ 1/1/2027 lương tối thiểu tăng.\n\n" + FOOTER
    ]
    assert fake_zalo.promotions("z-1") == []
    for user in ("z-2", "z-3"):
        assert fake_zalo.sent(user) == []
        [message] = fake_zalo.promotions(user)
        payload = message["attachment"]["payload"]
        assert (payload["template_type"], payload["language"]) == ("promotion", "VI")
        assert payload["elements"] == [
            {"type": "header", "content": "Lương tối thiểu vùng tăng", "align": "left"},
            {"type": "text", "content": "Từ 1/1/2027 lương tối thiểu tăng.\n\n" + FOOTER,
             "align": "left"},
        ]  # fmt: skip
    assert await zalo.counted() == 2  # the consultation message draws on no quota


async def test_with_promotion_messages_off_the_rest_are_reported_as_before(make_zalo, fake_zalo):
    zalo = make_zalo(zalo_promotion_broadcasts=False)
    await zalo.follower("z-1", timedelta(days=1))
    await zalo.follower("z-2", timedelta(days=3))
    sent = await zalo.broadcast("Tin mới.")
    await zalo.run()
    assert await zalo.outcomes(sent) == {
        "z-1": ("sent", None),
        "z-2": ("unreachable", "window_closed"),
    }
    assert fake_zalo.calls_to("promotion") == []


async def test_outside_the_promotional_hours_it_waits_then_goes_once_across_a_restart(
    make_zalo, fake_zalo
):
    """At 22:30 the consultation message goes (any hour is allowed) and the promotion
    message waits, shown with its reason; a restarted process sends it at 06:00, once."""
    zalo = make_zalo()
    zalo.clock.now = NIGHT
    await zalo.follower("z-1", timedelta(hours=2))
    await zalo.follower("z-2", timedelta(days=3))
    sent = await zalo.broadcast("Tin mới.")
    await zalo.run()
    assert await zalo.outcomes(sent) == {
        "z-1": ("sent", None),
        "z-2": ("pending", "promotion_hours"),
    }
    assert fake_zalo.calls_to("promotion") == []  # not even tried: Zalo would refuse it
    assert await zalo.status(sent) == "sending"
    assert await zalo.reasons(sent) == {
        "promotion_hours": "waiting for the hours Zalo allows news messages in; goes then"
    }
    async with zalo.database.sessions() as session:
        waiting = await session.scalar(
            select(BroadcastDelivery.next_attempt_at).where(BroadcastDelivery.status == "pending")
        )
    assert waiting == NEXT_OPENING
    zalo.clock.now = NEXT_OPENING - timedelta(minutes=1)
    await zalo.run()
    assert fake_zalo.calls_to("promotion") == []
    restarted = make_zalo(owner="after-restart")
    zalo.clock.now = NEXT_OPENING
    await restarted.run()
    await restarted.run()
    assert await zalo.statuses(sent) == {"z-1": "sent", "z-2": "sent"}
    assert len(fake_zalo.promotions("z-2")) == 1 and len(fake_zalo.sent("z-1")) == 1
    assert await zalo.status(sent) == "done"


async def test_a_second_one_the_same_day_waits_for_the_next_day(make_zalo, fake_zalo):
    zalo = make_zalo()
    await zalo.follower("z-2", timedelta(days=3))
    first = await zalo.broadcast("Tin thứ nhất.")
    await zalo.run()
    second = await zalo.broadcast("Tin thứ hai.")
    await zalo.run()
    assert await zalo.outcomes(first) == {"z-2": ("sent", None)}
    assert await zalo.outcomes(second) == {"z-2": ("pending", "promotion_today")}
    zalo.clock.now = NEXT_OPENING
    await zalo.run()
    assert await zalo.statuses(second) == {"z-2": "sent"}
    assert [fake_zalo.promotion_text(m) for m in fake_zalo.promotions("z-2")] == [
        "Tin thứ nhất.\n" + FOOTER,
        "Tin thứ hai.\n" + FOOTER,
    ]


async def test_past_the_months_quota_it_is_reported_and_next_month_it_goes(make_zalo, fake_zalo):
    zalo = make_zalo(zalo_promotion_per_month=2)
    await zalo.follower("z-2", timedelta(days=3))
    sent = []
    for day in range(3):
        zalo.clock.now = MORNING + timedelta(days=day)
        sent.append(await zalo.broadcast(f"Tin số {day + 1}."))
        await zalo.run()
    assert [await zalo.outcomes(b) for b in sent] == [
        {"z-2": ("sent", None)},
        {"z-2": ("sent", None)},
        {"z-2": ("unreachable", "promotion_quota")},
    ]
    assert await zalo.status(sent[-1]) == "done"
    assert await zalo.reasons(sent[-1]) == {
        "promotion_quota": "already got this month's Zalo news messages"
    }
    zalo.clock.now = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)  # 09:00 on 1 January, Vietnam
    january = await zalo.broadcast("Chúc mừng năm mới.")
    await zalo.run()
    assert await zalo.outcomes(january) == {"z-2": ("sent", None)}
    assert len(fake_zalo.promotions("z-2")) == 3


async def test_zalos_own_refusals_are_mapped(make_zalo, fake_zalo):
    """Zalo counts what the OA sent from its console too: its quota refusal (-211) is
    reported, and not counted here; its -234 inside our hours waits half an hour."""
    zalo = make_zalo(zalo_promotion_hours=(time(5), time(22)))
    await zalo.follower("z-2", timedelta(days=3))
    await zalo.follower("z-4", timedelta(days=3))
    fake_zalo.promoted["z-4"] = [date(2026, 12, d) for d in (1, 2, 3, 4)]
    zalo.clock.now = datetime(2026, 12, 7, 22, 40, tzinfo=UTC)  # 05:40 on the 8th
    sent = await zalo.broadcast("Tin mới.")
    await zalo.run()
    assert await zalo.outcomes(sent) == {
        "z-2": ("pending", "promotion_hours"),  # Zalo opens at 06:00, our hours at 05:00
        "z-4": ("pending", "promotion_hours"),
    }
    assert await zalo.counted() == 0  # refused: given back
    zalo.clock.now += timedelta(minutes=30)
    await zalo.run()
    assert await zalo.outcomes(sent) == {
        "z-2": ("sent", "promotion_hours"),  # went, after waiting
        "z-4": ("unreachable", "promotion_quota"),
    }
    assert await zalo.counted() == 1


async def test_a_send_retried_after_an_outage_is_counted_once(make_zalo, fake_zalo):
    zalo = make_zalo()
    await zalo.follower("z-2", timedelta(days=3))
    fake_zalo.fail_next_http("promotion", 502)
    sent = await zalo.broadcast("Tin mới.")
    await zalo.run()
    assert await zalo.outcomes(sent) == {"z-2": ("pending", "HTTP 502")}
    assert await zalo.counted() == 1  # it may have gone: counted until Zalo says otherwise
    zalo.clock.now += timedelta(minutes=5)
    await zalo.run()
    assert await zalo.statuses(sent) == {"z-2": "sent"}
    assert len(fake_zalo.promotions("z-2")) == 1
    assert await zalo.counted() == 1


async def test_the_image_is_uploaded_once_and_is_the_promotion_messages_banner(
    make_zalo, fake_zalo
):
    zalo = make_zalo()
    await zalo.follower("z-1", timedelta(hours=3))
    await zalo.follower("z-2", timedelta(days=3))
    sent = await zalo.broadcast("Ngày hội công nhân.", jpeg_with_gps())
    await zalo.run()
    assert await zalo.outcomes(sent) == {"z-1": ("sent", None), "z-2": ("sent", None)}
    assert len(fake_zalo.calls_to("upload_image")) == 1  # once, for both kinds of message
    [attachment] = list(fake_zalo.uploads)
    [message] = fake_zalo.promotions("z-2")
    banner = message["attachment"]["payload"]["elements"][0]
    assert banner == {"type": "banner", "attachment_id": attachment}
    image, _text = fake_zalo.sent("z-1")
    assert image["attachment"]["payload"]["elements"][0]["attachment_id"] == attachment


async def test_erasing_a_person_removes_their_counts(make_zalo):
    zalo = make_zalo()
    await zalo.follower("z-2", timedelta(days=3))
    await zalo.run()
    async with zalo.database.sessions() as session:
        person = await people.find(session, "zalo", "z-2")
        assert await promotions.take(
            session, "zalo", "z-2", 1, date(2026, 12, 7), per_day=1, per_month=4
        ) is None  # fmt: skip
        await session.commit()
        await people.delete_person(session, person.id)
        await session.commit()
    assert await zalo.counted() == 0


async def test_counts_from_before_this_month_are_pruned(make_zalo):
    zalo = make_zalo()
    await zalo.follower("z-2", timedelta(days=3))
    async with zalo.database.sessions() as session:
        for key, day in ((1, date(2026, 11, 30)), (2, date(2026, 12, 1))):
            await promotions.take(session, "zalo", "z-2", key, day, per_day=1, per_month=4)
        assert await promotions.prune(session, date(2026, 12, 1)) == 1
        await session.commit()
    assert await zalo.counted() == 1


def test_a_promotion_message_has_the_banner_a_short_header_and_the_stop_line():
    long_first_line = "Thông báo " * 15
    text = long_first_line + "\n\n" + "Nội dung. " * 300 + "\n\n" + FOOTER
    buttons = ((("Có", "poll:1:0"), ("Không", "poll:1:1")),)
    message = promotion(Delivery(-5, "zalo", "z-1", text, buttons), "att-1", "en", "Gõ số")
    payload = message["attachment"]["payload"]
    banner, header, body = payload["elements"]
    assert banner == {"type": "banner", "attachment_id": "att-1"}
    assert len(header["content"]) == 100 and header["content"].endswith("…")
    assert len(body["content"]) <= 2000 and body["content"].endswith("…\n\n" + FOOTER)
    assert payload["language"] == "EN"
    assert [b["payload"] for b in payload["buttons"]] == ["#poll:1:0", "#poll:1:1"]


def test_the_promotional_hours_open_at_six_the_next_morning():
    hours = (time(6), time(22))
    assert promotion_opens(MORNING, hours) is None
    assert promotion_opens(NIGHT, hours) == NEXT_OPENING
    early = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)  # 04:00 on the 8th
    assert promotion_opens(early, hours) == NEXT_OPENING
