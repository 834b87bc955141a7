"""The Zalo channel against the fake Zalo OA API, on both databases: signed events in, the
reply window, buttons and numbered options, files, and the tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels import zalo
from bot.channels.base import Delivery, Unreachable
from bot.config import Settings
from bot.services import accounts
from handlers.types import Address, Outgoing, Recipient
from storage import db
from storage.models import Credential, Evidence, InboxItem, OutboxItem, Person
from tests.fakes.zalo_api import ZaloUser, sign
from tests.fixtures.running_bot import zalo_settings
from tests.support import (
    ROOT,
    TEST_KEY,
    TEST_VAULT,
    clean_env,
    count,
    jpeg_with_gps,
    pdf_with_metadata,
    wait_fetched,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "zalo"
USER = "2468458835296198001"  # above 2^53: a float would change it
OTHER = "2468458835296198002"


def test_the_signature_is_sha256_of_app_id_body_timestamp_and_oa_secret():
    vectors = json.loads((PAYLOADS / "signature_vectors.json").read_text(encoding="utf-8"))
    for v in vectors:
        body = v["body"].encode()
        assert zalo.signature(v["app_id"], body, v["timestamp"], v["secret"]) == v["signature"]


def test_recorded_events_become_what_the_bot_handles():
    channel = object.__new__(zalo.ZaloChannel)
    channel.name, channel.tag = "zalo", TEST_VAULT.tag

    def load(name: str) -> dict:
        return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))

    text = channel.to_incoming(load("user_send_text"))
    assert text is not None and text.text and text.user_id == load("user_send_text")["sender"]["id"]
    image = channel.to_incoming(load("user_send_image"))
    assert image is not None and image.attachments[0].kind == "photo"
    assert image.attachments[0].reference.startswith("https://")
    document = channel.to_incoming(load("user_send_file")).attachments[0]
    assert document.kind == "document" and document.size == int(
        load("user_send_file")["message"]["attachments"][0]["payload"]["size"]
    )
    assert channel.to_incoming(load("user_send_audio")).attachments[0].mime == "audio/amr"
    assert channel.to_incoming(load("user_send_sticker")).attachments[0].reference is None
    assert channel.to_incoming(load("user_send_location")).attachments[0].kind == "location"
    assert channel.to_incoming(load("follow")).event == "joined"
    assert channel.to_incoming(load("unfollow")).event == "left"


async def refused(bot, fake, sessions, *args, **kwargs) -> int:
    status, _ = await fake.deliver(*args, **kwargs)
    await bot.runtime.settle()
    assert await count(sessions, InboxItem) == 0, "a refused event was stored"
    return status


async def test_forged_missing_or_stale_signatures_are_refused_and_store_nothing(
    start_bot, fake_zalo, sessions
):
    bot = await start_bot(zalo=True)
    event = fake_zalo.text_event(USER, "xin chào")
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    app_id, stamp = event["app_id"], event["timestamp"]
    assert await refused(bot, fake_zalo, sessions, event, signature="") == 401
    assert await refused(bot, fake_zalo, sessions, event, secret="someone-else") == 403
    # An HMAC with the key, instead of the plain hash of the concatenation.
    mac = hmac.new(b"oa-secret-test", app_id.encode() + body + stamp.encode(), hashlib.sha256)
    assert await refused(bot, fake_zalo, sessions, body, signature=f"mac={mac.hexdigest()}") == 403
    # Signed over a re-serialised body (spaces, escaped Vietnamese), the original sent.
    other = json.dumps(event).encode()
    resigned = sign(other, app_id, stamp, "oa-secret-test")
    assert await refused(bot, fake_zalo, sessions, body, signature=resigned) == 403
    # Eleven minutes old, correctly signed: a replay from the past.
    stale = fake_zalo.text_event(USER, "xin chào", at=time.time() - 660)
    assert await refused(bot, fake_zalo, sessions, stale) == 403
    # Another app's event, signed with its own id.
    stranger = {**event, "app_id": "111"}
    assert await refused(bot, fake_zalo, sessions, stranger) == 403
    for bad in (b"not json", b"[1, 2]", json.dumps({"app_id": app_id}).encode()):
        signature = sign(bad, app_id, stamp, "oa-secret-test")
        assert await refused(bot, fake_zalo, sessions, bad, signature=signature) == 400
    assert fake_zalo.sent() == []


async def test_a_redelivered_follow_is_handled_once_and_the_inbox_keeps_no_zalo_id(
    start_bot, fake_zalo, sessions
):
    """A follow has no msg_id: it is known again by event, follower and time, under a keyed
    hash, since the inbox keeps handled rows for days, past the worker's erasure."""
    bot = await start_bot(zalo=True)
    event = fake_zalo.follow_event(USER)
    for _ in range(2):
        assert (await fake_zalo.deliver(event))[0] == 200
    await bot.runtime.settle()
    async with sessions() as session:
        [row] = (await session.scalars(select(InboxItem))).all()
    assert USER not in row.external_id and len(row.external_id) >= 32
    assert len(fake_zalo.sent(USER)) == 1  # one greeting


async def test_a_redelivered_event_is_handled_once_and_ids_stay_strings(
    start_bot, fake_zalo, sessions
):
    bot = await start_bot(zalo=True)
    event = fake_zalo.text_event(USER, "/start")
    for _ in range(3):  # Zalo retries until it gets a 200, maybe after we stored it
        status, _ = await fake_zalo.deliver(event)
        assert status == 200
    await bot.runtime.settle()
    assert await count(sessions, InboxItem) == 1
    [greeting] = fake_zalo.sent(USER)
    assert fake_zalo.calls_to("cs")[0].params["recipient"]["user_id"] == USER
    assert fake_zalo.calls_to("cs")[0].access_token == "zalo-access-1"
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
    assert (person.channel, person.channel_user_id) == ("zalo", USER)
    # The menu (seven options) does not fit Zalo's five buttons: numbered lines, a hint.
    assert fake_zalo.buttons_of(greeting) == []
    assert "\n1. Hỏi đáp\n2. Gia nhập công đoàn\n" in fake_zalo.text_of(greeting)
    assert fake_zalo.text_of(greeting).endswith(
        "6. Ngôn ngữ / Language\n7. Nhận tin công đoàn\nBạn gõ số để chọn nhé."
    )


async def test_echoes_seen_marks_and_other_events_are_acknowledged_and_dropped(
    start_bot, fake_zalo, sessions
):
    bot = await start_bot(zalo=True)
    for event in (
        fake_zalo.oa_echo_event(USER, "Cảm ơn bạn"),
        fake_zalo.seen_event(USER, ["abc"]),
        fake_zalo.user_event(USER, "user_reacted_message", {"msg_id": "r1"}),
    ):
        status, _ = await fake_zalo.deliver(event)
        assert status == 200
    await bot.runtime.settle()
    assert await count(sessions, InboxItem) == 0 and fake_zalo.sent() == []


async def test_a_sticker_gets_the_text_only_answer_and_a_tap_is_a_press(start_bot, fake_zalo):
    await start_bot(zalo=True)
    worker = ZaloUser(fake_zalo, USER)
    await worker.send(fake_zalo.sticker_event(USER))
    assert "chữ" in fake_zalo.text_of(fake_zalo.sent(USER)[-1])
    await worker.say("/lang")
    shown = fake_zalo.buttons_of(fake_zalo.sent(USER)[-1])
    assert [(t, kind) for t, kind, _ in shown] == [
        ("Tiếng Việt", "oa.query.hide"), ("English", "oa.query.hide"),
    ]  # fmt: skip
    await worker.press("English")
    english = fake_zalo.text_of(fake_zalo.sent(USER)[-1])
    assert english.startswith("Done: I will write to you in English.\n\n1. Questions\n")
    assert english.endswith("\nType the number of your choice.")


async def test_a_number_typed_where_a_name_is_asked_is_the_answer_not_an_option(
    start_bot, fake_zalo, sessions
):
    await start_bot(zalo=True)
    worker = ZaloUser(fake_zalo, USER)
    await worker.say("/start")
    await worker.say("2")  # "Gia nhập công đoàn"
    await worker.press("Tôi đồng ý")
    assert fake_zalo.text_of(fake_zalo.sent(USER)[-1]).startswith("Họ tên")
    await worker.say("2")  # read as the name (and refused as one), not as menu option 2
    assert fake_zalo.text_of(fake_zalo.sent(USER)[-1]).startswith("Bạn ghi họ tên bằng chữ")
    await worker.say("/start")  # the menu, then "continue or drop the form?"
    await worker.say("1")  # the newest options shown: continue
    assert fake_zalo.text_of(fake_zalo.sent(USER)[-1]).startswith("Mình tiếp tục phần")


def number_of(fake, label: str) -> str:
    """The number of the option so labelled in the last message's numbered lines."""
    text = fake.text_of(fake.sent(USER)[-1])
    [number] = [line.split(". ", 1)[0] for line in text.splitlines() if line.endswith(f". {label}")]
    return number


def channel_for(settings: Settings, clock) -> zalo.ZaloChannel:
    channel = object.__new__(zalo.ZaloChannel)
    channel.settings, channel.clock, channel.name = settings, clock, "zalo"
    return channel


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_which_window_applies_before_a_send(settings):
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    channel = channel_for(settings, lambda: now)
    assert channel.check_window(Recipient(now - timedelta(hours=47))) == "free"
    assert channel.check_window(Recipient(now - timedelta(days=3))) == "billed"
    assert channel.check_window(Recipient()) == "free"  # erased: Zalo decides
    for person, why in (
        (Recipient(now - timedelta(days=7, minutes=1)), "window_closed"),
        (Recipient(now - timedelta(hours=1), left=True), "not_following"),
    ):
        with pytest.raises(Unreachable, match=why):
            channel.check_window(person)
    strict = channel_for(settings.with_(zalo_billed_replies=False), lambda: now)
    with pytest.raises(Unreachable, match="billed_off"):
        strict.check_window(Recipient(now - timedelta(days=3)))


def test_long_text_is_split_at_2000_characters_and_measured_in_composed_form():
    decomposed = "Công đoàn".replace("ô", "o\u0302")  # "ô" typed as o + combining circumflex
    delivery = Delivery(1, "zalo", USER, (decomposed + " ") * 400, (((("Gửi"), "report:send"),),))
    messages, options = zalo.render(delivery, "hint")
    assert options == [] and len(messages) == 2  # 4,000 characters composed, 4,400 not
    assert all(len(m["message"]["text"]) <= 2000 for m in messages)
    assert "o\u0302" not in messages[0]["message"]["text"]
    assert "attachment" in messages[-1]["message"] and "attachment" not in messages[0]["message"]
    long_label = Delivery(2, "zalo", USER, "Chọn", ((("Một nhãn dài hơn hai mươi ký tự", "a:b"),),))
    messages, options = zalo.render(long_label, "Gõ số")
    assert options == ["a:b"]
    assert messages[0]["message"]["text"].endswith("1. Một nhãn dài hơn hai mươi ký tự\nGõ số")


async def test_a_rejected_access_token_is_refreshed_once_and_the_new_pair_saved_sealed(
    start_bot, fake_zalo, sessions
):
    await start_bot(zalo=True)
    worker = ZaloUser(fake_zalo, USER)
    await worker.say("/start")
    fake_zalo.access_token = "rotated-by-zalo"  # what the bot holds is no longer valid
    await worker.say("/lang")
    tokens = fake_zalo.calls_to("token")
    assert len(tokens) == 1 and tokens[0].params["refresh_token"] == "zalo-refresh-1"
    assert tokens[0].secret_key == "app-secret-test"
    assert fake_zalo.calls_to("cs")[-1].access_token == "zalo-access-2"
    async with sessions() as session:
        row = await session.get(Credential, "zalo")
    assert TEST_VAULT.open(row.refresh_sealed) == "zalo-refresh-2"
    assert b"zalo-refresh" not in row.refresh_sealed and row.lease_owner is None


async def two_tokens(settings: Settings, fake_zalo, http) -> list[zalo.ZaloTokens]:
    """Two processes' token keepers: each with its own connections to the database."""
    changed = settings.with_(**zalo_settings(fake_zalo))
    keepers = []
    for _ in range(2):
        database = db.Database.open(changed.database_url)

        async def told(reason: str) -> None:
            raise AssertionError(reason)

        keepers.append(
            zalo.ZaloTokens(
                changed, http, database, seal=TEST_VAULT.seal, reveal=TEST_VAULT.open,
                on_broken=told,
            )
        )  # fmt: skip
    return keepers


async def test_two_processes_refreshing_at_once_call_zalo_once(settings, fake_zalo):
    fake_zalo.delay_token_seconds = 0.5
    async with aiohttp.ClientSession() as http:
        first, second = await two_tokens(settings, fake_zalo, http)
        try:
            assert await first.current() == "zalo-access-1"  # seeded from the settings
            got = await asyncio.gather(
                first.refresh(rejected="zalo-access-1"), second.refresh(rejected="zalo-access-1")
            )
        finally:
            await first.db.close()
            await second.db.close()
    assert got == ["zalo-access-2", "zalo-access-2"]
    assert len(fake_zalo.calls_to("token")) == 1


async def add_admin(sessions) -> None:
    """An admin linked on Telegram (7100): who hears when Zalo's tokens need authorising."""
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="FED-ROOT", name="An", role="admin", now=datetime.now(UTC),
            telegram_user_id="7100",
        )  # fmt: skip
        await session.commit()


# One process's token keeper, asked for a token other than the one Zalo refused.
REFRESH_IN_A_PROCESS = """
import asyncio, os, sys
import aiohttp
from bot.channels import zalo
from bot.config import Settings
from bot.services.crypto import load_vault
from storage import db

async def main():
    settings = Settings.from_env(dict(os.environ))
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    async def told(reason):
        print("TOLD", reason)
    async with aiohttp.ClientSession() as http:
        keeper = zalo.ZaloTokens(
            settings, http, database, seal=vault.seal, reveal=vault.open, on_broken=told
        )
        print(await keeper.refresh(rejected=sys.argv[1]), flush=True)
    await database.close()

asyncio.run(main())
"""


async def test_two_real_processes_refreshing_at_once_call_zalo_once(settings, fake_zalo):
    fake_zalo.delay_token_seconds = 2.0  # both are waiting while the first refresh runs
    env = clean_env(
        DATABASE_URL=settings.database_url, UNIONBOT_ENCRYPTION_KEY=TEST_KEY,
        **{key.upper(): str(value) for key, value in zalo_settings(fake_zalo).items()},
    )  # fmt: skip
    command = [sys.executable, "-c", REFRESH_IN_A_PROCESS, "zalo-access-1"]
    pipe = asyncio.subprocess.PIPE
    processes = [
        await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT, stdout=pipe, stderr=pipe)
        for _ in range(2)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    assert [p.returncode for p in processes] == [0, 0], [err.decode() for _, err in outputs]
    assert [out.decode().strip() for out, _ in outputs] == ["zalo-access-2", "zalo-access-2"]
    assert len(fake_zalo.calls_to("token")) == 1


async def test_a_refused_refresh_token_tells_the_admins_once_and_keeps_the_messages(
    start_bot, fake_zalo, fake_telegram, sessions
):
    bot = await start_bot(zalo=True)
    await add_admin(sessions)
    fake_zalo.access_token = "rotated"
    fake_zalo.refresh_token = "revoked-by-zalo"
    for text in ("/start", "/help"):
        await fake_zalo.deliver(fake_zalo.text_event(USER, text))
        await bot.runtime.settle()
    [told] = fake_telegram.sent(7100)
    assert "unionbot zalo authorize" in told["text"]
    assert len(fake_zalo.calls_to("token")) == 1  # refused once: not tried again and again
    async with sessions() as session:
        waiting = (
            await session.scalars(select(OutboxItem).where(OutboxItem.channel == "zalo"))
        ).all()
        row = await session.get(Credential, "zalo")
    assert row.broken and all(not m.failed and m.attempts == 0 for m in waiting)
    assert len(waiting) == 2


async def test_billed_replies_are_held_when_the_union_turned_them_off(
    start_bot, fake_zalo, fake_telegram, sessions
):
    bot = await start_bot(zalo=True, zalo_billed_replies=False)
    await ZaloUser(fake_zalo, USER).say("/start")
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
        person.heard_sealed = TEST_VAULT.seal((datetime.now(UTC) - timedelta(days=3)).isoformat())
        await session.commit()
    before = len(fake_zalo.calls_to("cs"))
    sender = bot.runtime.sender
    async with sender.work() as work:
        work.send([Outgoing(Address("zalo", USER, person.id), "Tin của công đoàn")])
    await bot.runtime.settle()
    assert len(fake_zalo.calls_to("cs")) == before
    async with sessions() as session:
        held = (await session.scalars(select(OutboxItem).where(OutboxItem.held))).one()
    assert held.last_error == "billed_off" and not held.failed


async def test_zalo_errors_hold_back_off_or_give_up(start_bot, fake_zalo, sessions):
    bot = await start_bot(zalo=True)
    worker = ZaloUser(fake_zalo, USER)
    fake_zalo.fail_next("cs", -32, "Your OA reached limit call api")
    await worker.say("/start", replies=0)
    await bot.runtime.settle()
    await worker.say("/help", replies=0)  # waits behind the reply waiting for its retry
    other = ZaloUser(fake_zalo, OTHER)
    fake_zalo.inactive(OTHER)
    await other.say("/help", replies=0)
    await bot.runtime.settle()
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    limited, behind, inactive = rows
    assert (limited.attempts, limited.failed, limited.held) == (1, False, False)
    assert limited.next_attempt_at - datetime.now(UTC) > timedelta(seconds=50)
    assert (behind.attempts, behind.sent_at, behind.held) == (0, None, False)
    assert (inactive.held, inactive.last_error, inactive.attempts) == (True, "window_closed", 0)


async def test_files_are_fetched_from_zalo_and_audio_is_taken(start_bot, fake_zalo, sessions):
    await start_bot(zalo=True)
    pdf = fake_zalo.add_file(pdf_with_metadata(), "Luong_NguyenThiLan.pdf")
    amr = fake_zalo.add_file(b"#!AMR\n" + bytes(200), "voice.amr")
    worker = ZaloUser(fake_zalo, USER)
    await worker.say("/start")
    await worker.say("3")  # Gửi phản ánh
    await worker.say("1")  # Nợ lương, chậm lương
    await worker.say("sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.say("Công ty nợ lương hai tháng, có phiếu lương làm bằng")
    await worker.say("2")
    await worker.say("2")
    await worker.send(fake_zalo.file_event(USER, pdf, "Luong_NguyenThiLan.pdf", type_="pdf"))
    await worker.send(fake_zalo.audio_event(USER, amr))
    rows = await wait_fetched(sessions, 2)
    assert [(r.kind, r.status, r.mime) for r in rows] == [
        ("document", "ready", "application/pdf"), ("voice", "ready", "audio/amr"),
    ]  # fmt: skip
    assert b"Nguyen Thi Lan" not in rows[0].content
    assert all(r.reference is None for r in rows)
    assert sorted(fake_zalo.downloads) == sorted(["Luong_NguyenThiLan.pdf", "voice.amr"])
    assert await count(sessions, Evidence) == 2


async def test_images_and_files_are_uploaded_then_sent(start_bot, fake_zalo):
    bot = await start_bot(zalo=True)
    channel = bot.runtime.channels["zalo"]
    attachment = await channel.upload(jpeg_with_gps(), "poster.jpg", image=True)
    token = await channel.upload(pdf_with_metadata(), "chinh-sach.pdf", image=False)
    await channel.send_image(USER, attachment, "Áp phích")
    await channel.send_file(USER, token)
    image, document = fake_zalo.sent(USER)
    elements = image["attachment"]["payload"]["elements"]
    assert elements == [{"media_type": "image", "attachment_id": attachment}]
    assert document["attachment"] == {"type": "file", "payload": {"token": token}}


async def test_without_tokens_the_admins_are_told_once_and_messages_wait_for_them(
    start_bot, fake_zalo, fake_telegram, sessions
):
    bot = await start_bot(zalo=True, zalo_access_token=None, zalo_refresh_token=None)
    await add_admin(sessions)
    for text in ("/start", "/help"):
        await fake_zalo.deliver(fake_zalo.text_event(USER, text))
        await bot.runtime.settle()
    [told] = fake_telegram.sent(7100)
    assert "unionbot zalo authorize" in told["text"]
    assert fake_zalo.calls_to("cs") == [] and fake_zalo.calls_to("token") == []
    # The admin authorises (`unionbot zalo authorize` stores the pair); the next try sends.
    pair = zalo.TokenPair(
        "zalo-access-1", "zalo-refresh-1", datetime.now(UTC) + timedelta(hours=25)
    )
    database = db.Database.open(bot.runtime.services.settings.database_url)
    await zalo.store(database, TEST_VAULT.seal, pair, datetime.now(UTC))
    await database.close()
    async with sessions() as session:
        for row in await session.scalars(select(OutboxItem).where(OutboxItem.channel == "zalo")):
            assert row.attempts == 0 and not row.failed
            row.next_attempt_at = None  # as when the minute's wait is over
        await session.commit()
    await bot.runtime.sender.scan()
    await bot.runtime.settle()
    assert len(fake_zalo.sent(USER)) == 2


async def test_a_forged_tap_is_refused_and_an_officers_button_means_nothing_on_zalo(
    start_bot, fake_zalo, sessions
):
    await start_bot(zalo=True)
    worker = ZaloUser(fake_zalo, USER)
    await worker.say("/start")
    await worker.say("3")  # Gửi phản ánh: a form in progress
    before = await count(sessions, InboxItem)
    for forged in ("#o:claim:1", "#f:grievance:nope:x", "#zz:" + "9" * 80):
        await worker.say(forged)
        assert fake_zalo.text_of(fake_zalo.sent(USER)[-1]).startswith("Nút này")
    assert await count(sessions, InboxItem) == before + 3
    # Text with a "#" that is no payload is text, answered as such.
    await worker.say("#hello")
    assert not fake_zalo.text_of(fake_zalo.sent(USER)[-1]).startswith("Nút này")
