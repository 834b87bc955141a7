"""Greeting, menu, help, language and the polite refusals."""

from __future__ import annotations

from sqlalchemy import select

from handlers.types import Incoming
from storage.models import Case, CaseMessage, Conversation, Person
from tests.handlers.conftest import buttons, labels
from tests.scenarios import MENU
from tests.support import count


async def test_start_greets_in_vietnamese_and_shows_the_entry_points(talk):
    [reply] = await talk().say("/start")
    assert reply.text.startswith("Xin chào! Mình là trợ lý tự động của Công đoàn, không phải")
    assert "ẩn danh" in reply.text
    assert buttons(reply) == MENU
    assert labels(reply) == [
        "Hỏi đáp", "Gia nhập công đoàn", "Gửi phản ánh", "Hỗ trợ khó khăn", "Theo dõi hồ sơ",
        "Ngôn ngữ / Language", "Nhận tin công đoàn",
    ]  # fmt: skip
    assert reply.to.channel == "terminal" and reply.to.chat_id == "900"
    assert reply.to.person_id is not None


async def test_a_first_question_is_greeted_then_answered_and_can_be_passed_on(talk, sessions):
    worker = talk()
    hello, answer = await worker.say("cty ko tra luong 2 thang r")
    assert hello.text.startswith("Xin chào! Mình là trợ lý tự động của Công đoàn")
    assert buttons(hello) == MENU
    assert answer.text.startswith("Trả lương, nợ lương, chậm lương")
    assert "report:start" in buttons(answer) and "faq:ask" in buttons(answer)
    [sent] = await worker.press("Hỏi cán bộ công đoàn")
    assert "Mã hồ sơ: HD-2026-000001." in sent.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        message = (await session.scalars(select(CaseMessage))).one()
    assert (case.kind, case.category) == ("question", "faq")
    assert message.text == "cty ko tra luong 2 thang r"


async def test_menu_and_help(talk):
    worker = talk()
    await worker.say("/start")
    [menu] = await worker.say("/menu")
    assert menu.text == "Bạn cần gì? Chọn một mục bên dưới nhé."
    assert buttons(menu) == MENU
    [help_] = await worker.say("/help")
    for command in ("/menu", "/lang", "/huy", "/help", "/dangky", "/dung"):
        assert command in help_.text
    [menu_again] = await worker.press_payload("menu:home")  # "Về menu chính", shown elsewhere
    assert buttons(menu_again) == MENU


async def test_language_choice_is_remembered_per_person(talk, dispatcher, database):
    lan, minh = talk("lan"), talk("minh")
    await lan.say("/start")
    await minh.say("/start")
    [choice] = await lan.press("Ngôn ngữ / Language")
    assert buttons(choice) == ["lang:vi", "lang:en"]
    [done] = await lan.press("English")
    assert done.text == "Done: I will write to you in English."
    assert labels(done)[:2] == ["Questions", "Join the union"]

    # Remembered: a later message, in a new session, is answered in English…
    [menu] = await lan.say("/menu")
    assert menu.text == "What do you need? Choose one below."
    # …and only for that person.
    [other] = await minh.say("/menu")
    assert other.text == "Bạn cần gì? Chọn một mục bên dưới nhé."
    async with database.sessions() as session:
        person = await session.scalar(select(Person).where(Person.channel_user_id == "lan"))
    assert person.language == "en"

    [back] = await lan.say("/lang vi")
    assert back.text == "Xong: từ giờ mình sẽ nhắn cho bạn bằng tiếng Việt."
    [offer] = await lan.say("/lang klingon")
    assert buttons(offer) == ["lang:vi", "lang:en"]


async def test_unknown_commands_and_things_without_text_get_a_polite_answer(talk):
    worker = talk()
    await worker.say("/start")
    [unknown] = await worker.say("/xoso")
    assert unknown.text == "Mình không hiểu lệnh /xoso. Gõ /help để xem các lệnh."
    [sticker] = await worker.send(Incoming("terminal", "900", "900", text=None))
    assert sticker.text.startswith("Hiện mình chỉ đọc được tin nhắn chữ.")
    [blank] = await worker.say("   ")
    assert blank.text == sticker.text


async def test_over_long_text_is_refused_without_creating_anyone(talk, sessions):
    [reply] = await talk().say("x" * 4097)
    assert reply.text.startswith("Tin nhắn của bạn dài quá")
    assert await count(sessions, Person) == 0
    hello, declined = await talk().say("x" * 4096)
    assert hello.text.startswith("Xin chào")
    assert "faq:ask" in buttons(declined)


async def test_stale_and_forged_buttons_change_nothing(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press_payload("q:write:faq")
    async with sessions() as session:
        before = (await session.get(Conversation, 1)).state
    for payload in (
        "q:write:nope",
        "status:list:x",
        "menu:",
        "lang:",
        "q:send",
        "a:" + "b" * 70,
        "MENU:home",
        "menu:home\n",
        "q:offer:faq;drop table",
    ):
        [reply] = await worker.press_payload(payload)
        assert reply.text == "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé.", payload
    async with sessions() as session:
        after = (await session.get(Conversation, 1)).state
    assert after == before == {"flow": "question", "topic": "faq"}


async def test_a_flood_from_one_person_gets_one_notice_then_silence(talk, clock):
    from datetime import timedelta

    flooder, other = talk("900"), talk("901")
    answers = [await flooder.say("/menu") for _ in range(40)]
    assert all(len(a) == 1 for a in answers[:30])
    assert answers[30][0].text.startswith("Bạn đang gửi tin nhắn quá nhanh.")
    assert all(a == [] for a in answers[31:])
    # Someone else is not held up…
    [reply] = await other.say("/menu")
    assert reply.text.startswith("Bạn cần gì?")
    # …and a minute later the flooder is read again.
    clock.now += timedelta(seconds=61)
    [again] = await flooder.say("/menu")
    assert again.text.startswith("Bạn cần gì?")


async def test_a_backlog_sent_slowly_is_not_a_flood(talk, clock):
    from datetime import timedelta

    from handlers.types import Incoming

    worker = talk("902")
    # Forty messages sent over forty minutes, all processed at once after downtime.
    for minute in range(40):
        sent = clock.now - timedelta(minutes=40 - minute)
        [reply] = await worker.send(Incoming("terminal", "902", "902", text="/menu", sent_at=sent))
        assert reply.text.startswith("Bạn cần gì?"), minute
