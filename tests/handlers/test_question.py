"""Leaving a message for an officer: a `question` case in the root federation's queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.outbox import Sender
from storage.models import AuditEntry, Case, CaseMessage, Union
from tests.handlers.conftest import Talk, buttons
from tests.scenarios import MENU
from tests.support import count

# "q:offer:…" is on no menu any more (every item is built), and the dialogues below go
# straight to "q:write:…" (the "Để lại lời nhắn" under it): both are pressed by payload.


async def test_each_unbuilt_menu_item_says_so_and_offers_a_message(talk):
    worker = talk()
    await worker.say("/start")
    for topic, name in (
        ("faq", "Hỏi đáp"),
        ("join", "Gia nhập công đoàn"),
        ("report", "Gửi phản ánh"),
        ("support", "Hỗ trợ khó khăn"),
    ):
        [reply] = await worker.press_payload(f"q:offer:{topic}")
        assert reply.text == (
            f"Phần “{name}” trong khung chat này đang được xây dựng, chưa dùng được. Bạn có "
            "thể để lại lời nhắn: cán bộ Liên đoàn Lao động tỉnh Lâm Đồng sẽ đọc và trả lời "
            "bạn ngay tại đây."
        )
        assert buttons(reply) == [f"q:write:{topic}", "menu:home"]


async def test_a_message_becomes_a_question_case_in_the_root_queue(talk, sessions):
    worker = talk()
    await worker.say("/start")
    [prompt] = await worker.press_payload("q:write:support")
    assert "Không cần ghi họ tên hay số điện thoại" in prompt.text
    [done] = await worker.say("  Con em bị bệnh nặng, em cần hỗ trợ  ")

    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
        [message] = (await session.scalars(select(CaseMessage))).all()
        [audit] = (await session.scalars(select(AuditEntry))).all()
    assert case.code == "HD-2026-000001"
    assert (case.kind, case.category, case.status, case.anonymous) == (
        "question",
        "support",
        "new",
        True,  # told no name is needed: nothing on the case points to the worker
    )
    assert case.person_id is None and case.reporter_sealed is not None
    assert union.code == "FED-ROOT"
    assert (message.author, message.text) == ("worker", "Con em bị bệnh nặng, em cần hỗ trợ")
    assert (audit.action, audit.case_id, audit.detail) == (
        "case.opened",
        case.id,
        {"kind": "question"},
    )
    assert done.text == (
        "Đã gửi lời nhắn của bạn. Mã hồ sơ: HD-2026-000001.\n"
        "Cán bộ Liên đoàn Lao động tỉnh Lâm Đồng sẽ đọc và trả lời bạn ngay tại đây. "
        "Bạn xem lại ở mục “Theo dõi hồ sơ”."
    )
    # The flow is over: the next text is free text again.
    [after] = await worker.say("cam on")
    assert after.text == "Không có gì ạ! Khi cần, bạn cứ nhắn cho mình nhé."
    assert buttons(after) == MENU


async def test_codes_count_per_kind_and_year(talk, clock, sessions):
    worker = talk()
    await worker.say("/start")
    for text in ("một", "hai"):
        await worker.press_payload("q:write:faq")
        await worker.say(text)
    clock.now = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 23:00 on 31 December in Vietnam
    await worker.press_payload("q:write:faq")
    await worker.say("ba")
    clock.now += timedelta(hours=2)  # 01:00 on 1 January in Vietnam, still 2026 in UTC
    await worker.press_payload("q:write:faq")
    await worker.say("bốn")
    async with sessions() as session:
        codes = (await session.scalars(select(Case.code).order_by(Case.id))).all()
    assert codes == ["HD-2026-000001", "HD-2026-000002", "HD-2026-000003", "HD-2027-000001"]


async def test_cancel_drops_the_message_in_progress(talk, sessions):
    worker = talk()
    await worker.say("/start")
    for cancel in ("/huy", "/cancel"):
        await worker.press_payload("q:write:join")
        [reply] = await worker.say(cancel)
        assert reply.text.startswith("Đã huỷ.")
    # A cancel word typed where the message is expected is asked about, never sent on.
    for word in ("huỷ", "Hủy", "thoi"):
        await worker.press_payload("q:write:join")
        [sure] = await worker.say(word)
        assert sure.text == "Bạn muốn thôi không viết tin nhắn nữa?"
        [reply] = await worker.press("Có, huỷ")
        assert reply.text.startswith("Đã huỷ.")
    await worker.press_payload("q:write:join")
    await worker.say("thôi")
    [go_on] = await worker.press("Không, mình viết tiếp")
    assert go_on.text.startswith("Bạn viết tin nhắn trong một lần gửi nhé.")
    [sent, *_alerts] = await worker.say("Cho em hỏi thủ tục vào công đoàn")
    assert "Mã hồ sơ: HD-2026-000001." in sent.text
    [nothing] = await worker.say("/huy")
    assert nothing.text.startswith("Không có việc gì đang làm dở.")
    assert await count(sessions, Case) == 1


async def test_a_message_in_progress_survives_a_restart(dispatcher, database, sessions):
    await Talk(dispatcher, database, "900").say("/start")
    await Talk(dispatcher, database, "900").press_payload("q:write:join")
    # A new dispatcher, as after a restart: the state is in the database.
    restarted = Dispatcher(dispatcher.services, {}, Sender(database, dispatcher.services, {}))
    [done] = await Talk(restarted, database, "900").say("Cho em hỏi thủ tục vào công đoàn")
    assert "Mã hồ sơ: HD-2026-000001." in done.text


async def test_a_sent_draft_cannot_be_sent_twice(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.say("cty em no bhxh")
    await worker.press_payload("q:send")
    [again] = await worker.press_payload("q:send")
    assert again.text.startswith("Nút này không còn dùng được.")
    assert await count(sessions, Case) == 1
