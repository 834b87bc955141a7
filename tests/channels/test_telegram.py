"""The real python-telegram-bot Application against the fake Bot API, on both databases."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import select

from bot.app import RUNTIME
from bot.services import accounts
from storage import evidence
from storage.models import (
    Case,
    CaseMessage,
    Evidence,
    InboxItem,
    OutboxItem,
    Person,
    Subscription,
    Union,
)
from tests.fakes.telegram_api import TelegramUser
from tests.fixtures.running_bot import WEBHOOK_SECRET
from tests.scenarios import MENU_LABELS, MENU_PAYLOADS, report_to_the_dairy_union
from tests.support import TEST_VAULT, count, jpeg_with_gps, pdf_with_metadata, wait_fetched


def keyboard(message: dict) -> list[list[tuple[str, str]]]:
    rows = message["reply_markup"]["inline_keyboard"]
    return [[(b["text"], b["callback_data"]) for b in row] for row in rows]


def labels(message: dict) -> list[list[str]]:
    return [[label for label, _ in row] for row in keyboard(message)]


async def test_webhook_start_greets_in_vietnamese_with_the_menu(start_bot, fake_telegram):
    bot = await start_bot()
    hook = fake_telegram.calls_to("setWebhook")[0]
    assert hook["url"] == f"{bot.url}/telegram/webhook"
    assert hook["secret_token"] == WEBHOOK_SECRET

    status, _ = await fake_telegram.deliver(fake_telegram.text_update(501, "/start"))
    assert status == 200
    await fake_telegram.wait_for("sendMessage")

    [reply] = fake_telegram.sent(501)
    assert reply["text"].startswith("Xin chào! Mình là trợ lý tự động của Công đoàn")
    assert [[p for _, p in row] for row in keyboard(reply)] == MENU_PAYLOADS
    assert labels(reply) == MENU_LABELS


async def test_menu_button_is_acknowledged_and_answered(start_bot, fake_telegram):
    await start_bot()
    await fake_telegram.deliver(fake_telegram.text_update(502, "/start"))
    await fake_telegram.wait_for("sendMessage", 1)
    press = fake_telegram.button_update(502, "lang:choose")
    await fake_telegram.deliver(press)
    await fake_telegram.wait_for("sendMessage", 2)
    await fake_telegram.wait_for("answerCallbackQuery", 1)

    assert (
        fake_telegram.calls_to("answerCallbackQuery")[0]["callback_query_id"]
        == (press["callback_query"]["id"])
    )
    reply = fake_telegram.sent(502)[-1]
    assert labels(reply) == [["Tiếng Việt", "English"]]


async def test_a_person_leaves_a_message_that_becomes_a_case_in_the_root_queue(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    for update in (
        fake_telegram.text_update(503, "/start"),
        fake_telegram.button_update(503, "q:offer:join"),
        fake_telegram.button_update(503, "q:write:join"),
        fake_telegram.text_update(503, "Em muon vao cong doan, cty em chua co cong doan"),
    ):
        await fake_telegram.deliver(update)
        await bot.runtime.settle()

    replies = fake_telegram.sent(503)
    assert "đang được xây dựng" in replies[1]["text"]
    assert replies[2]["text"].startswith("Bạn hãy viết lời nhắn")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        root = await session.get(Union, case.union_id)
    assert re.fullmatch(r"HD-\d{4}-000001", case.code)
    assert f"Mã hồ sơ: {case.code}." in replies[3]["text"]
    assert (case.kind, case.category, case.status) == ("question", "join", "new")
    assert root.code == "FED-ROOT"


async def test_wrong_or_missing_secret_gets_403_and_is_not_stored(
    start_bot, fake_telegram, sessions
):
    await start_bot()
    update = fake_telegram.text_update(504, "/start")
    assert (await fake_telegram.deliver(update, secret="wrong"))[0] == 403
    assert (await fake_telegram.deliver(update, secret=""))[0] == 403
    assert await count(sessions, InboxItem) == 0
    assert fake_telegram.sent() == []


async def test_malformed_bodies_are_refused_and_change_nothing(start_bot, fake_telegram, sessions):
    bot = await start_bot()
    bodies: list[bytes | str] = [
        b"not json",
        b"\xff\xfe\x00",
        "[]",
        "{}",
        json.dumps({"update_id": "12"}),
        json.dumps({"update_id": -1}),
        json.dumps({"update_id": True}),
        json.dumps({"update_id": 5, "message": "text instead of an object"}),
        json.dumps({"update_id": 6, "message": {"chat": 1}}),
    ]
    for body in bodies:
        status, _ = await fake_telegram.deliver(body)
        assert status == 400, body
    huge = json.dumps({"update_id": 7, "message": {"text": "x" * (2 * 1024 * 1024)}})
    assert (await fake_telegram.deliver(huge))[0] == 413
    await bot.runtime.settle()
    assert await count(sessions, InboxItem) == 0
    assert await count(sessions, Person) == 0


async def test_a_redelivered_update_is_processed_once(start_bot, fake_telegram, sessions):
    bot = await start_bot()
    update = fake_telegram.text_update(505, "/start")
    for _ in range(3):
        assert (await fake_telegram.deliver(update))[0] == 200
    await bot.runtime.settle()
    assert len(fake_telegram.sent(505)) == 1
    assert await count(sessions, InboxItem) == 1


async def test_processed_inbox_rows_keep_no_text_or_names(start_bot, fake_telegram, sessions):
    bot = await start_bot()
    await fake_telegram.deliver(fake_telegram.text_update(506, "Tên tôi là Lan, sđt 0912345678"))
    await bot.runtime.settle()
    async with sessions() as session:
        row = (await session.scalars(select(InboxItem))).one()
    assert row.status == "done"
    assert row.payload is None


async def test_unknown_update_kinds_are_ignored_and_the_worker_carries_on(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    fake = fake_telegram
    edited = {
        "update_id": fake.next_update_id(),
        "edited_message": fake.text_update(507, "x")["message"] | {"edit_date": 1},
    }
    channel_post = {
        "update_id": fake.next_update_id(),
        "channel_post": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": -1001, "type": "channel", "title": "Kênh"},
            "text": "tin",
        },
    }
    added_to_group = {
        "update_id": fake.next_update_id(),
        "my_chat_member": {
            "chat": {"id": -100200, "type": "group", "title": "Tổ sản xuất"},
            "from": {"id": 507, "is_bot": False, "first_name": "Lan"},
            "date": 1,
            "old_chat_member": {
                "user": {"id": 7000000001, "is_bot": True, "first_name": "B"},
                "status": "left",
            },
            "new_chat_member": {
                "user": {"id": 7000000001, "is_bot": True, "first_name": "B"},
                "status": "member",
            },
        },
    }
    group_text = fake.text_update(507, "/start", chat_type="group", chat_id=-100200)
    poll = {
        "update_id": fake.next_update_id(),
        "poll": {
            "id": "p1",
            "question": "?",
            "options": [],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        },
    }
    for update in (edited, channel_post, added_to_group, group_text, poll):
        assert (await fake.deliver(update))[0] == 200, update
    sticker = fake.message_update(
        507,
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u1",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        },
    )
    await fake.deliver(sticker)
    await fake.deliver(fake.text_update(507, "/start"))
    await bot.runtime.settle()

    replies = fake.sent()
    assert [str(r["chat_id"]) for r in replies] == ["507", "507"]
    assert "chỉ đọc được tin nhắn chữ" in replies[0]["text"]
    assert replies[1]["text"].startswith("Xin chào")
    assert await count(sessions, InboxItem, InboxItem.status == "ignored") == 5
    assert await count(sessions, InboxItem, InboxItem.status == "pending") == 0


async def test_the_fields_read_from_an_update_are_checked_one_by_one(
    start_bot, fake_telegram, sessions
):
    """The bot reads an update's JSON itself (not through PTB's classes): a bot's message is
    ignored, a date that is no time still leaves the text answered, and a part that should be
    an object and is not is refused before anything is stored."""
    bot = await start_bot()
    fake = fake_telegram
    from_a_bot = fake.text_update(508, "/start")
    from_a_bot["message"]["from"]["is_bot"] = True
    odd_date = fake.text_update(509, "/start")
    odd_date["message"]["date"] = 10**30
    for update in (from_a_bot, odd_date):
        assert (await fake.deliver(update))[0] == 200
    broken_photo = fake.message_update(510, {"photo": ["not a photo size"]})
    press_on_text = fake.button_update(511, "menu:home")
    press_on_text["callback_query"]["message"] = "text instead of a message"
    for update in (broken_photo, press_on_text):
        assert (await fake.deliver(update))[0] == 400
    await bot.runtime.settle()
    assert [str(r["chat_id"]) for r in fake.sent()] == ["509"]
    assert await count(sessions, InboxItem) == 2


async def test_text_over_4096_characters_is_refused_and_changes_nothing(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    await fake_telegram.deliver(fake_telegram.text_update(508, "a" * 4097))
    await bot.runtime.settle()
    [reply] = fake_telegram.sent(508)
    assert "dài quá" in reply["text"]
    assert await count(sessions, Person) == 0


async def test_forged_and_stale_buttons_are_refused_and_change_nothing(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    fake = fake_telegram
    # A button press from someone the bot never wrote to is forged.
    await fake.deliver(fake.button_update(509, "q:send"))
    await bot.runtime.settle()
    assert await count(sessions, Person) == 0
    await fake.deliver(fake.text_update(509, "/start"))
    for data in ("q:send", "q:write:../../etc", "menu:nope", "zz:1", "lang:fr", "x" * 64, ""):
        await fake.deliver(fake.button_update(509, data))
    await bot.runtime.settle()
    first, greeting, *refusals = fake.sent(509)
    assert "Nút này không còn dùng được" in first["text"]
    assert greeting["text"].startswith("Xin chào")
    assert len(refusals) == 7
    assert all("Nút này không còn dùng được" in r["text"] for r in refusals)
    assert await count(sessions, Case) == 0


async def test_long_polling_advances_the_offset_only_after_the_inbox_commit(
    start_bot, fake_telegram, sessions, monkeypatch
):
    import storage.inbox

    real_store = storage.inbox.store
    failures = {"left": 1}

    async def flaky_store(session, updates, now):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database went away")
        return await real_store(session, updates, now)

    monkeypatch.setattr("bot.inbox.inbox.store", flaky_store)
    monkeypatch.setattr("bot.channels.telegram.POLL_TIMEOUT_SECONDS", 1)
    update = fake_telegram.text_update(510, "/start")
    fake_telegram.feed(update)
    bot = await start_bot(webhook=False)
    assert fake_telegram.calls_to("deleteWebhook")
    await fake_telegram.wait_for("sendMessage", 1)
    await bot.runtime.settle()

    offsets = fake_telegram.get_updates_offsets
    # The failed store left the offset where it was: the update was fetched again.
    assert offsets[:2] == [None, None]
    assert update["update_id"] + 1 in offsets
    assert len(fake_telegram.sent(510)) == 1
    assert await count(sessions, InboxItem) == 1


async def test_a_failed_send_is_retried_and_a_blocked_chat_is_given_up(
    start_bot, fake_telegram, sessions, monkeypatch
):
    monkeypatch.setattr("bot.outbox.SCAN_SECONDS", 0.05)
    monkeypatch.setattr(
        "storage.outbox.backoff", lambda attempts: __import__("datetime").timedelta(0)
    )
    bot = await start_bot()
    fake_telegram.fail_next("sendMessage", 502, "Bad Gateway")
    await fake_telegram.deliver(fake_telegram.text_update(511, "/start"))
    await fake_telegram.wait_for("sendMessage", 2)
    await bot.runtime.settle()
    assert await count(sessions, OutboxItem, OutboxItem.sent_at.is_not(None)) == 1

    fake_telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await fake_telegram.deliver(fake_telegram.text_update(511, "/menu"))
    await fake_telegram.wait_for("sendMessage", 3)
    await bot.runtime.settle()
    assert await count(sessions, OutboxItem, OutboxItem.failed.is_(True)) == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 3


async def test_healthz_answers_when_the_database_does(start_bot, fake_telegram):
    import aiohttp

    bot = await start_bot()
    async with aiohttp.ClientSession() as client, client.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["ok"] is True
    assert bot.app[RUNTIME].channels.keys() == {"telegram", "web"}


async def test_nul_characters_are_dropped_rather_than_refused_by_the_database(
    start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    fake = fake_telegram
    for update in (
        fake.text_update(512, "/start"),
        fake.button_update(512, "q:write:faq"),
        fake.text_update(512, "lương\u0000 tháng 10"),
    ):
        assert (await fake.deliver(update))[0] == 200
        await bot.runtime.settle()
    async with sessions() as session:
        message = (await session.scalars(select(CaseMessage))).one()
    assert message.text == "lương tháng 10"
    assert "Mã hồ sơ" in fake.sent(512)[-1]["text"]


async def test_one_persons_messages_are_handled_and_answered_in_order(start_bot, fake_telegram):
    bot = await start_bot()
    fake = fake_telegram
    await fake.deliver(fake.text_update(513, "/start"))
    # Delivered back to back, without waiting for replies: each /menu must be answered in
    # the language chosen by the command just before it.
    sequence = ["/lang en", "/menu", "/lang vi", "/menu"] * 5
    for text in sequence:
        await fake.deliver(fake.text_update(513, text))
    await bot.runtime.settle()
    menus = [m["text"] for m in fake.sent(513)[1:] if "?" in m["text"]]
    assert (
        menus
        == ["What do you need? Choose one below.", "Bạn cần gì? Chọn một mục bên dưới nhé."] * 5
    )


async def test_flood_control_from_telegram_is_respected(start_bot, fake_telegram, monkeypatch):
    import time

    monkeypatch.setattr("bot.outbox.SCAN_SECONDS", 0.05)
    bot = await start_bot()
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    await fake_telegram.deliver(fake_telegram.text_update(514, "/start"))
    await fake_telegram.wait_for("sendMessage", 2)
    await bot.runtime.settle()
    calls = [c for c in fake_telegram.calls if c.method == "sendMessage"]
    assert calls[1].at - calls[0].at >= 0.9
    assert time.monotonic() - started < 5
    assert fake_telegram.sent(514)[-1]["text"].startswith("Xin chào")


async def test_a_question_typed_without_diacritics_gets_the_answer_and_next_steps(
    start_bot, fake_telegram
):
    """The issue's 'done means': the wage-payment answer, its legal basis and buttons."""
    await start_bot()
    await fake_telegram.deliver(fake_telegram.text_update(503, "/start"))
    await fake_telegram.wait_for("sendMessage", 1)
    await fake_telegram.deliver(
        fake_telegram.text_update(503, "cty no luong 2 thang roi phai lam sao")
    )
    await fake_telegram.wait_for("sendMessage", 2)

    answer = fake_telegram.sent(503)[-1]
    assert answer["text"].startswith("Trả lương, nợ lương, chậm lương\n\n")
    assert "Căn cứ: Bộ luật Lao động 2019" in answer["text"]
    payloads = [p for row in keyboard(answer) for _, p in row]
    assert payloads[:2] == ["report:start", "faq:ask"]
    assert labels(answer)[:2] == [["Gửi phản ánh"], ["Hỏi cán bộ công đoàn"]]


async def test_registering_interest_on_telegram_resumes_after_a_restart(
    start_bot, fake_telegram, sessions
):
    """The issue's 'done means': a case code routed to the right union; a restart mid-form
    loses nothing."""
    first = await start_bot()
    hoa = TelegramUser(fake_telegram, 504)
    await hoa.say("/start")
    await hoa.press("Gia nhập công đoàn")
    await hoa.press("Tôi đồng ý")
    await hoa.say("Trần Thị Hoa")
    assert fake_telegram.sent(504)[-1]["text"] == "Công đoàn gọi cho bạn qua số điện thoại nào?"
    await first.stop()

    await start_bot()
    await hoa.say("0987 654 321")
    await hoa.say("KS Thông Xanh")
    await hoa.press("Đúng rồi")
    await hoa.press("Có, tôi có hợp đồng lao động")
    await hoa.press("Bỏ qua")  # no time to call in particular
    await hoa.press("Gửi")
    texts = [m["text"] for m in fake_telegram.sent(504)]
    assert texts[4].startswith("Bạn làm ở đâu?")
    assert texts[5] == "Mình hiểu là Công ty CP Khách sạn Thông Xanh, đúng không?"
    assert texts[6] == "Bạn có hợp đồng lao động không?"
    assert texts[8].startswith("Bạn xem lại trước khi gửi nhé:\n• Họ tên: Trần Thị Hoa\n")
    assert texts[9].startswith(
        "Cảm ơn bạn! Mình đã ghi nhận đăng ký. Mã hồ sơ: GN-2026-000001.\n"
        "Cán bộ Công đoàn cơ sở Công ty CP Khách sạn Thông Xanh sẽ gọi cho bạn trước 17:00 "
    )
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
    assert (case.kind, union.code, case.route_rule) == ("membership", "GR-THONGXANH", 1)


async def test_an_anonymous_report_on_telegram_keeps_no_telegram_identity(
    start_bot, fake_telegram, sessions
):
    await start_bot()
    worker = TelegramUser(fake_telegram, 505)
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Mất an toàn lao động")
    await worker.say("xuong may lang biang")
    await worker.press("Đúng rồi")
    await worker.say("Xưởng nóng quá, không có quạt, nhiều người bị say nắng")
    await worker.press("Trong tháng này")
    await worker.press("Hơn 50 người")
    await worker.press("Xong, tiếp tục")
    await worker.press("Tôi muốn ẩn danh")
    await worker.press("Gửi")
    done = fake_telegram.sent(505)[-1]["text"]
    assert done.startswith("Mình đã nhận phản ánh của bạn. Mã hồ sơ: KN-2026-000001.\n")
    # The garment factory has its own union; an anonymous report goes to the one above it.
    assert "Công đoàn phường Lang Biang - Đà Lạt sẽ trả lời bạn" in done
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
    assert (union.code, case.anonymous, case.person_id) == ("CL-LANGBIANG", True, None)
    row = {c.name: getattr(case, c.name) for c in Case.__table__.columns}
    hashes = ("reporter_sealed", "reporter_tag", "pin_tag")  # sealed or keyed: no digits to read
    assert "505" not in repr({k: v for k, v in row.items() if k not in hashes})


async def test_evidence_is_downloaded_through_the_file_endpoint_and_scrubbed(
    start_bot, fake_telegram, sessions
):
    await start_bot()
    photo = fake_telegram.add_file(jpeg_with_gps())
    pdf = fake_telegram.add_file(pdf_with_metadata(), "pdf")
    voice = fake_telegram.add_file(b"OggS" + bytes(300), "oga")
    worker = TelegramUser(fake_telegram, 506)
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.say("Công ty nợ lương hai tháng, có phiếu lương làm bằng")
    await worker.press("Từ 1 đến 6 tháng")
    await worker.press("Từ 11 đến 50 người")
    await worker.send(fake_telegram.photo_update(506, photo))
    await worker.send(
        fake_telegram.document_update(506, pdf, "application/pdf", name="Luong_NguyenThiLan.pdf")
    )
    await worker.send(fake_telegram.voice_update(506, voice))
    await worker.send(
        fake_telegram.document_update(506, "NO-SUCH-FILE", "application/pdf", file_size=900)
    )
    await worker.press("Xong, tiếp tục")
    await worker.press("Tôi muốn ẩn danh")
    await worker.press("Gửi")
    texts = [m["text"] for m in fake_telegram.sent(506)]
    assert texts[8].startswith("Đã nhận: 1 tệp.") and texts[11].startswith("Đã nhận: 4 tệp.")
    assert "Đã đính kèm 4 tệp" in texts[-1]

    rows = await wait_fetched(sessions, 4)
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert [(r.kind, r.status, r.reason, r.case_id) for r in rows] == [
        ("photo", "ready", None, case.id), ("document", "ready", None, case.id),
        ("voice", "ready", None, case.id), ("document", "failed", "BadRequest", case.id),
    ]  # fmt: skip
    assert all(r.reference is None for r in rows)  # no file_id is kept once it is dealt with
    picture, document, recording, _missing = rows
    assert picture.mime == "image/jpeg" and b"PhoneOfLan" not in picture.content
    assert Image.open(io.BytesIO(picture.content)).getexif() == {}
    assert b"Nguyen Thi Lan" not in document.content and b"Luong_" not in document.content
    assert recording.content == b"OggS" + bytes(300)
    # getFile for each, then the file endpoint the API base gives (/file/bot<token>/<path>).
    assert sorted(c["file_id"] for c in fake_telegram.calls_to("getFile")) == sorted(
        [photo, pdf, voice, "NO-SUCH-FILE"]
    )
    assert sorted(fake_telegram.downloads) == sorted(
        fake_telegram.files[f][0] for f in (photo, pdf, voice)
    )


async def test_a_failed_download_is_retried_later(start_bot, fake_telegram, sessions):
    bot = await start_bot()
    photo = fake_telegram.add_file(jpeg_with_gps())
    fake_telegram.fail_next("getFile", 502, "Bad Gateway")
    async with sessions() as session:
        row = evidence.receive(
            session, channel="telegram", reference=photo, kind="photo", mime="image/jpeg",
            size=None, now=datetime.now(UTC),
        )  # fmt: skip
        row.next_attempt_at = datetime(2100, 1, 1, tzinfo=UTC)  # not for the background loop
        await session.commit()
        row_id = row.id
    fetcher = bot.runtime.fetcher
    await fetcher.fetch(row_id, "telegram", photo, "photo", "image/jpeg", 0)
    async with sessions() as session:
        waiting = await session.get(Evidence, row_id)
    assert (waiting.status, waiting.attempts, waiting.reference) == ("pending", 1, photo)
    assert datetime.now(UTC) < waiting.next_attempt_at < datetime(2100, 1, 1, tzinfo=UTC)
    await fetcher.fetch(row_id, "telegram", photo, "photo", "image/jpeg", 1)
    [row] = await wait_fetched(sessions, 1)
    assert (row.status, row.attempts) == ("ready", 1)


async def test_an_officer_handles_a_case_on_telegram_and_the_worker_is_told(
    start_bot, fake_telegram, sessions
):
    await start_bot()
    async with sessions() as session:
        binh = await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Bình", role="officer",
            now=datetime.now(UTC),
        )  # fmt: skip
        code = accounts.invite(binh, TEST_VAULT, datetime.now(UTC)).code
        await accounts.add_officer(
            session, union_code="GR-THONGXANH", name="Khác", role="officer",
            now=datetime.now(UTC), telegram_user_id="7003",
        )  # fmt: skip
        await accounts.register_group(session, "GR-SUACAONGUYEN", "-100555", datetime.now(UTC))
        await session.commit()

    officer = TelegramUser(fake_telegram, 7001)  # Bình, on Telegram
    await officer.say(f"/canbo {code}")
    assert fake_telegram.sent(7001)[-1]["text"].startswith("Đã liên kết: bạn là Bình")
    worker = TelegramUser(fake_telegram, 508)
    # Sent, as the worker chooses, to the dairy's own union rather than the one above it.
    await report_to_the_dairy_union(worker)
    # The last step: the worker's receipt, and the alerts to Bình and the group.
    await worker.press("Gửi", replies=3)
    alert = fake_telegram.sent(7001)[-1]
    assert alert["text"].startswith("Hồ sơ mới trong hàng đợi của bạn:\nKN-2026-000001")
    assert "508" not in alert["text"] and "Lan" not in alert["text"]
    assert fake_telegram.sent(-100555)[-1]["text"] == alert["text"]
    assert fake_telegram.sent(7003) == []  # another union's officer hears nothing
    claim = keyboard(alert)[0][0]  # (label, callback data)
    # Claimed from the group: the group is answered, the worker told.
    await officer.send(fake_telegram.button_update(7001, claim[1], chat_id=-100555), replies=2)
    assert fake_telegram.sent(-100555)[-1]["text"].startswith("Bạn đã nhận KN-2026-000001.")
    assert "đang xử lý" in fake_telegram.sent(508)[-1]["text"]
    # Another union's officer forging the same button gets a refusal and changes nothing.
    await TelegramUser(fake_telegram, 7003).send(fake_telegram.button_update(7003, claim[1]))
    assert fake_telegram.sent(7003)[-1]["text"].startswith("Không có hồ sơ này")
    await officer.press("Trả lời")  # under the alert in Bình's own chat
    answer = "Chào bạn, công đoàn sẽ làm việc với công ty trong tuần này."
    await officer.say(answer, replies=2)  # Bình's confirmation and the copy to the worker
    copied = fake_telegram.sent(508)[-1]
    assert copied["text"].endswith(answer)
    assert {c.method for c in fake_telegram.calls} <= {
        "getMe", "setWebhook", "sendMessage", "answerCallbackQuery",
    }  # copied, never forwarded  # fmt: skip
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.status, case.assignee_id, case.anonymous) == ("assigned", binh.id, True)


async def test_a_worker_chooses_union_news_on_telegram_and_stops_it(
    start_bot, fake_telegram, sessions
):
    await start_bot()
    lan = TelegramUser(fake_telegram, 512)
    await lan.say("/start")
    await lan.press("Nhận tin công đoàn")
    await lan.press("Chương trình hỗ trợ")
    choice = fake_telegram.sent(512)[-1]
    assert choice["text"].startswith("Bạn đang nhận: Chương trình hỗ trợ.\n")
    assert labels(choice)[2] == ["✓ Chương trình hỗ trợ"]
    async with sessions() as session:
        assert (await session.scalars(select(Subscription.topic))).all() == ["support"]
    await lan.say("dừng")
    assert fake_telegram.sent(512)[-1]["text"] == (
        "Đã dừng: bạn sẽ không nhận tin từ công đoàn nữa. Muốn nhận lại, gõ /dangky."
    )
    assert await count(sessions, Subscription) == 0
