"""/xoadulieu: the worker sees what is kept and deletes it; cases stay, detached."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case, Conversation, OutboxItem, Person, UnansweredQuestion
from tests.conftest import count
from tests.handlers.conftest import buttons
from tests.handlers.test_grievance import to_anonymity
from tests.handlers.test_membership import to_workplace
from tests.handlers.test_menu import MENU


async def test_a_worker_sees_and_deletes_their_data_and_cases_stay_detached(
    talk, sessions, dispatcher
):
    worker = talk("900")
    await to_workplace(worker)  # consent, name and phone
    await worker.say("cty sua cao nguyen")
    await worker.press("f:membership:contract:contract")
    await worker.press("f:membership:contact_time:-skip")
    await to_anonymity(worker)
    await worker.press("f:grievance:anonymity:anonymous")
    await worker.say("xổ số hôm nay")  # an unanswered question
    other = talk("901")
    await other.say("/start")
    await other.say("Xổ số hôm nay?")  # the same theme, asked by someone else too
    await worker.press("join:start")  # something half-filled
    async with sessions() as session:
        # Replies the dispatcher returned are stored by the caller in the real app.
        session.add(
            OutboxItem(person_id=1, channel="terminal", chat_id="900", text="x",
                       created_at=dispatcher.services.clock())
        )  # fmt: skip
        await session.commit()

    [shown] = await worker.say("/xoadulieu")
    assert shown.text.startswith(
        "Đây là những gì mình đang lưu về bạn:\n"
        "• số điện thoại: có, được mã hoá\n"
        "• đồng ý lưu dữ liệu cá nhân: đã đồng ý\n"
        "• hồ sơ bạn đã gửi: 2\n"
    )
    assert buttons(shown) == ["privacy:erase", "privacy:keep"]
    [done] = await worker.press("privacy:erase")
    assert done.text == (
        "Đã xoá:\n• số điện thoại\n• sự đồng ý lưu dữ liệu cá nhân\n• phần bạn đang điền dở\n"
        "• 1 tin mình đã gửi cho bạn\n• 1 câu hỏi mình chưa trả lời được\n"
        "2 hồ sơ vẫn ở lại với công đoàn, không còn gì liên kết tới bạn."
    )
    assert buttons(done) == MENU
    async with sessions() as session:
        person = await session.get(Person, 1)
        kept = (await session.scalars(select(Case).order_by(Case.id))).all()
        questions = (await session.scalars(select(UnansweredQuestion))).all()
        state = await session.get(Conversation, 1)
    assert (person.phone_encrypted, person.consent_at) == (None, None)
    assert [c.code for c in kept] == ["GN-2026-000001", "KN-2026-000001"]
    for case in kept:
        links = (case.person_id, case.reporter_sealed, case.reporter_tag, case.contact_sealed)
        assert links == (None, None, None, None)
    # The theme stays for the other person, with their wording and count.
    [theme] = questions
    assert (theme.count, theme.text) == (1, "Xổ số hôm nay?")
    assert state.state == {}
    assert await count(sessions, OutboxItem) == 0
    [mine] = await worker.press("status:list")
    assert mine.text.startswith("Bạn chưa gửi hồ sơ nào.")
    [again] = await worker.press("privacy:erase")
    assert again.text == "Không có dữ liệu cá nhân nào để xoá."


async def test_keeping_deletes_nothing(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.say("/xoadulieu")
    [kept] = await worker.press("privacy:keep")
    assert kept.text == "Chưa xoá gì cả."
    assert await count(sessions, Person) == 1
