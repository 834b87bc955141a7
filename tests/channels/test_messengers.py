"""The worker's dialogues over HTTP, once on Telegram and once on Zalo (the `messenger`
fixture), each on both databases: the same bot wherever the worker chats."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import select

from bot.services import accounts
from storage import choices
from storage.models import Case, CaseMessage, OutboxItem, Person, ShownChoices, Union
from tests.fakes.telegram_api import TelegramUser
from tests.scenarios import MENU_LABELS, MENU_PAYLOADS, report_to_the_dairy_union
from tests.support import TEST_VAULT, count, jpeg_with_gps, wait_fetched

MENU = [label for row in MENU_LABELS for label in row]
MENU_PAYLOADS_FLAT = [payload for row in MENU_PAYLOADS for payload in row]
NOW = datetime.now(UTC)


async def test_greeting_and_menu(messenger):
    await messenger.start()
    lan = messenger.worker(501)
    await lan.say("/start")
    [greeting] = lan.seen()
    assert greeting.text.startswith("Xin chào! Mình là trợ lý tự động của Công đoàn")
    assert greeting.labels == MENU
    await lan.press("Ngôn ngữ / Language")
    assert lan.last().labels == ["Tiếng Việt", "English"]


async def test_a_question_typed_without_diacritics_is_answered(messenger):
    await messenger.start()
    lan = messenger.worker(502)
    await lan.say("/start")
    await lan.say("cty no luong 2 thang roi phai lam sao")
    answer = lan.last()
    assert answer.text.startswith("Trả lương, nợ lương, chậm lương\n\n")
    assert "Căn cứ: Bộ luật Lao động 2019" in answer.text
    assert answer.labels[:2] == ["Gửi phản ánh", "Hỏi cán bộ công đoàn"]


async def test_a_membership_form_is_filed_to_the_workplace_union(messenger, sessions):
    await messenger.start()
    hoa = messenger.worker(503)
    await hoa.say("/start")
    await hoa.press("Gia nhập công đoàn")
    await hoa.press("Tôi đồng ý")
    await hoa.say("Trần Thị Hoa")
    assert hoa.last().text == "Công đoàn gọi cho bạn qua số điện thoại nào?"
    await hoa.say("0987 654 321")
    await hoa.say("KS Thông Xanh")
    assert hoa.last().text == "Mình hiểu là Công ty CP Khách sạn Thông Xanh, đúng không?"
    await hoa.press("Đúng rồi")
    await hoa.press("Có, tôi có hợp đồng lao động")
    await hoa.press("Bỏ qua")
    assert hoa.last().text.startswith("Bạn xem lại trước khi gửi nhé:\n• Họ tên: Trần Thị Hoa\n")
    await hoa.press("Gửi")
    assert hoa.last().text.startswith(
        "Cảm ơn bạn! Mình đã ghi nhận đăng ký. Mã hồ sơ: GN-2026-000001.\n"
    )
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
        person = await session.get(Person, case.person_id)
    assert (case.kind, union.code, case.route_rule) == ("membership", "GR-THONGXANH", 1)
    assert (person.channel, person.channel_user_id) == (messenger.name, hoa.chat)


async def test_an_anonymous_grievance_with_a_photo(messenger, sessions):
    await messenger.start()
    worker = messenger.worker(504)
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Mất an toàn lao động")
    await worker.say("xuong may lang biang")
    await worker.press("Đúng rồi")
    await worker.say("Xưởng nóng quá, không có quạt, nhiều người bị say nắng")
    await worker.press("Trong tháng này")
    await worker.press("Hơn 50 người")
    await worker.photo(jpeg_with_gps())
    assert worker.last().text.startswith("Đã nhận: 1 tệp.")
    await worker.press("Xong, tiếp tục")
    await worker.press("Tôi muốn ẩn danh")
    await worker.press("Gửi")
    done = worker.last().text
    assert done.startswith("Mình đã nhận phản ánh của bạn. Mã hồ sơ: KN-2026-000001.\n")
    assert "Công đoàn phường Lang Biang - Đà Lạt sẽ trả lời bạn" in done
    [photo] = await wait_fetched(sessions, 1)
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.anonymous, case.person_id, photo.case_id, photo.status) == (
        True, None, case.id, "ready",
    )  # fmt: skip
    assert Image.open(io.BytesIO(photo.content)).getexif() == {}
    row = {c.name: getattr(case, c.name) for c in Case.__table__.columns}
    sealed = ("reporter_sealed", "reporter_tag", "pin_tag")
    assert worker.chat not in repr({k: v for k, v in row.items() if k not in sealed})


async def test_my_requests_and_erasing_my_data(messenger, sessions):
    await messenger.start()
    worker = messenger.worker(508)
    await file_report(worker)
    await worker.press("Theo dõi hồ sơ")  # under the receipt
    listed = worker.last().text
    assert listed.startswith("Hồ sơ của bạn:\nKN-2026-000001 · Phản ánh · ")
    await worker.say("/xoadulieu")
    assert worker.last().text.startswith("Đây là những gì mình đang lưu về bạn:\n")
    await worker.press("Xoá dữ liệu của tôi")
    assert "1 hồ sơ vẫn ở lại với công đoàn, không còn gì liên kết tới bạn." in worker.last().text
    assert worker.last().labels == MENU  # still reachable: the menu works after erasure
    async with sessions() as session:
        people = (await session.scalars(select(Person))).all()
        case = (await session.scalars(select(Case))).one()
    assert people == [] and case.reporter_sealed is None
    # On Zalo the menu under the confirmation is numbered: its options (public entry points,
    # nothing of the worker's) are kept until the janitor's next day.
    async with sessions() as session:
        shown = (await session.scalars(select(ShownChoices))).all()
        assert [json.loads(TEST_VAULT.open(row.sealed)) for row in shown] == (
            [MENU_PAYLOADS_FLAT] if messenger.name == "zalo" else []
        )
        # The janitor's next day would take them (not done here: the worker taps below).
        assert await choices.prune(session, NOW - timedelta(days=7), NOW + timedelta(days=1)) == (
            len(shown)
        )
        await session.rollback()
    await worker.press("Theo dõi hồ sơ")
    assert worker.last().text.startswith("Bạn chưa gửi hồ sơ nào.")


async def file_report(worker) -> None:
    """An anonymous wage report to the dairy's own union (GR-SUACAONGUYEN)."""
    await report_to_the_dairy_union(worker)
    await worker.press("Gửi")


async def link_officer(messenger, sessions) -> TelegramUser:
    """Bình, an officer of the dairy's union, linked on Telegram."""
    async with sessions() as session:
        binh = await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Bình", role="officer",
            now=datetime.now(UTC),
        )  # fmt: skip
        code = accounts.invite(binh, TEST_VAULT, datetime.now(UTC)).code
        await session.commit()
    officer = TelegramUser(messenger.telegram, 7001)
    await officer.say(f"/canbo {code}")
    return officer


async def test_an_officers_reply_is_relayed_to_the_worker(messenger, sessions):
    await messenger.start()
    officer = await link_officer(messenger, sessions)
    worker = messenger.worker(505)
    await file_report(worker)
    alert = messenger.telegram.sent(7001)[-1]
    assert alert["text"].startswith("Hồ sơ mới trong hàng đợi của bạn:\nKN-2026-000001")
    assert worker.chat not in alert["text"]
    await officer.press("Trả lời")
    answer = "Chào bạn, công đoàn sẽ làm việc với công ty trong tuần này."
    await officer.say(answer, replies=1)
    await messenger.bot.runtime.settle()
    copied = worker.last()
    assert copied.text.endswith(answer)
    assert copied.labels == ["Trả lời", "Về menu chính"]
    await worker.press("Trả lời")
    await worker.say("Dạ em cảm ơn anh chị")
    async with sessions() as session:
        entries = (await session.scalars(select(CaseMessage.author).order_by(CaseMessage.id))).all()
    assert entries[-2:] == ["officer", "worker"]


async def test_a_reply_after_the_window_closed_is_kept_and_sent_when_the_worker_writes(
    messenger, sessions
):
    """Zalo lets the union write only within 7 days of the worker's last message; Telegram
    has no such window. A reply that cannot go out is kept, the officer told, and sent when
    the worker writes again."""
    await messenger.start()
    officer = await link_officer(messenger, sessions)
    worker = messenger.worker(506)
    await file_report(worker)
    before = len(worker.seen())
    await last_wrote(sessions, worker, datetime.now(UTC) - timedelta(days=8))
    await officer.press("Trả lời")
    await officer.say("Công đoàn đã làm việc với công ty.", replies=1)
    await messenger.bot.runtime.settle()
    if messenger.name == "telegram":
        assert worker.last().text.endswith("Công đoàn đã làm việc với công ty.")
        return
    assert len(worker.seen()) == before  # not sent
    told = messenger.telegram.sent(7001)[-1]["text"]
    assert told.startswith("KN-2026-000001\nChưa gửi được: người lao động nhắn lần cuối")
    assert "hơn 7 ngày" in told
    async with sessions() as session:
        held = (await session.scalars(select(OutboxItem).where(OutboxItem.held))).one()
        thread = (await session.scalars(select(CaseMessage.author))).all()
    assert held.chat_id == worker.chat and held.last_error == "window_closed"
    assert thread[-1] == "system"
    await worker.say("Em chào anh chị")
    await wait_sent(messenger, worker, "Công đoàn đã làm việc với công ty.")
    assert await count(sessions, OutboxItem, OutboxItem.held) == 0


async def test_unfollowing_stops_delivery_until_the_worker_follows_again(messenger, sessions):
    if messenger.name != "zalo":
        return  # Telegram's equivalent (blocking the bot) is the broadcasts' business
    await messenger.start()
    officer = await link_officer(messenger, sessions)
    worker = messenger.worker(507)
    await file_report(worker)
    zalo = messenger.zalo
    await zalo.deliver(zalo.unfollow_event(worker.chat))
    await messenger.bot.runtime.settle()
    async with sessions() as session:
        person = (await session.scalars(select(Person).where(Person.channel == "zalo"))).one()
    assert person.blocked
    calls = len(zalo.calls_to("cs"))
    await officer.press("Trả lời")
    await officer.say("Bạn còn cần hỗ trợ không?", replies=1)
    await messenger.bot.runtime.settle()
    assert len(zalo.calls_to("cs")) == calls  # not even tried
    assert "không còn theo dõi" in messenger.telegram.sent(7001)[-1]["text"]
    await zalo.deliver(zalo.follow_event(worker.chat))
    await wait_sent(messenger, worker, "Bạn còn cần hỗ trợ không?")


async def last_wrote(sessions, worker, when: datetime) -> None:
    """As if the worker's last message had come at `when` (bot/services/reach.py)."""
    async with sessions() as session:
        person = (
            await session.scalars(select(Person).where(Person.channel_user_id == worker.chat))
        ).one()
        person.heard_sealed = TEST_VAULT.seal(when.isoformat())
        await session.commit()


async def wait_sent(messenger, worker, ending: str) -> None:
    """Wait until a message ending so reaches the worker (a released message goes out with
    the sender's next scan)."""
    for _ in range(50):
        await messenger.bot.runtime.settle()
        if any(shown.text.endswith(ending) for shown in worker.seen()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never sent: {ending!r}; sent {[s.text[:40] for s in worker.seen()]}")
