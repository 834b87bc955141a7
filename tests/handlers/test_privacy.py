"""/xoadulieu: the worker sees what is kept and deletes it; cases stay, detached."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import reporters
from storage import cases, unions
from storage.models import (
    AuditEntry,
    Case,
    CaseMessage,
    Conversation,
    OutboxItem,
    Person,
    UnansweredQuestion,
)
from tests.handlers.conftest import NOW, buttons
from tests.scenarios import MENU, add_officer
from tests.support import TEST_VAULT, count

ERASED_NOTE = "Người gửi đã xoá dữ liệu của mình ngày 25/11/2026; không thể trả lời họ qua bot nữa."


async def _filed_by(talk, sessions, user: str, pin: str = "123456") -> tuple[Case, Case]:
    """A worker who agreed to keep their phone, with a named membership request and an
    anonymous report with a PIN, both in GR-SUACAONGUYEN's queue (opened directly: the
    forms have their own tests)."""
    await talk(user).say("/start")
    async with sessions() as session:
        person = (await session.scalars(select(Person).where(Person.channel_user_id == user))).one()
        person.phone_encrypted = TEST_VAULT.seal("0912345678")
        person.consent_at = NOW
        union = await unions.by_code(session, "GR-SUACAONGUYEN")
        named = await cases.open(
            session, kind="membership", union_id=union.id, person_id=person.id,
            text="Đăng ký gia nhập", now=NOW, category="contract",
            contact_sealed=TEST_VAULT.seal('{"name": "Lan", "phone": "0912345678"}'),
        )  # fmt: skip
        hidden = await cases.open(
            session, kind="grievance", union_id=union.id, person_id=None, anonymous=True,
            text="Nợ lương hai tháng", now=NOW, category="wages",
            reporter_sealed=TEST_VAULT.seal(str(person.id)),
            reporter_tag=reporters.tag(TEST_VAULT, person.id),
        )  # fmt: skip
        hidden.pin_tag = TEST_VAULT.tag(f"pin:{hidden.code}:{pin}")
        await session.commit()
        return named, hidden


async def test_a_worker_sees_and_deletes_their_data_and_cases_stay_detached(
    talk, sessions, dispatcher
):
    worker = talk("900")
    await _filed_by(talk, sessions, "900", pin="123456")
    [found] = await talk("902").say("/tracuu KN-2026-000001 123456")
    assert found.text.startswith("KN-2026-000001 · Phản ánh")
    await worker.say("xổ số hôm nay")  # an unanswered question
    other = talk("901")
    await other.say("/start")
    await other.say("Xổ số hôm nay?")  # the same theme, asked by someone else too
    await worker.press_payload("join:start")  # something half-filled
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
    # Before deciding, the worker learns that their codes and PINs will stop working.
    assert (
        "không còn gì liên kết tới bạn: bạn không theo dõi được các hồ sơ đó ở đây nữa (mã hồ "
        "sơ và mã PIN bạn đã nhận sẽ không dùng được), và cán bộ không thể trả lời bạn qua "
        "đây về các hồ sơ đó nữa. Không thể hoàn tác."
    ) in shown.text
    assert buttons(shown)[-2:] == ["privacy:erase", "privacy:keep"]  # after the form's own
    [done] = await worker.press("Xoá dữ liệu của tôi")
    assert done.text == (
        "Đã xoá:\n• số điện thoại\n• sự đồng ý lưu dữ liệu cá nhân\n• phần bạn đang điền dở\n"
        "• 1 tin mình đã gửi cho bạn\n• 1 câu hỏi mình chưa trả lời được\n"
        "2 hồ sơ vẫn ở lại với công đoàn, không còn gì liên kết tới bạn. Mã hồ sơ và mã PIN "
        "của các hồ sơ đó không dùng được nữa, và cán bộ không thể trả lời bạn qua đây nữa."
    )
    assert buttons(done) == MENU
    async with sessions() as session:
        person = await session.get(Person, 1)
        kept = (await session.scalars(select(Case).order_by(Case.id))).all()
        questions = (await session.scalars(select(UnansweredQuestion))).all()
        state = await session.get(Conversation, 1)
    # The person and their conversation are gone: nothing left to link to (the cases stay).
    assert person is None and state is None
    assert [c.code for c in kept] == ["GN-2026-000001", "KN-2026-000001"]
    for case in kept:
        links = (case.person_id, case.reporter_sealed, case.reporter_tag, case.contact_sealed)
        assert links == (None, None, None, None)
    # The theme stays for the other person, with their wording and count.
    [theme] = questions
    assert (theme.count, theme.text) == (1, "Xổ số hôm nay?")
    # What was sent to them is blanked: no text, no chat, no link (SQLite never reuses ids).
    assert await count(sessions, OutboxItem, OutboxItem.person_id.is_not(None)) == 0
    assert await count(sessions, OutboxItem, OutboxItem.chat_id == "900") == 0
    [mine] = await worker.press("Theo dõi hồ sơ")
    assert mine.text.startswith("Bạn chưa gửi hồ sơ nào.")
    [again] = await worker.press_payload("privacy:erase")  # the button above, again
    assert again.text == "Không có dữ liệu cá nhân nào để xoá."
    # The PIN no longer opens the anonymous report, from any account.
    [looked] = await talk("902").say("/tracuu KN-2026-000001 123456")
    assert looked.text == "Mã hồ sơ hoặc mã PIN chưa đúng."


async def test_keeping_deletes_nothing(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.say("/xoadulieu")
    [kept] = await worker.press("Giữ lại")
    assert kept.text == "Chưa xoá gì cả."
    assert await count(sessions, Person) == 1


async def test_officers_are_told_the_sender_erased_their_data(talk, sessions):
    binh, worker = talk("7001", "telegram"), talk("900")
    await add_officer(sessions, "GR-SUACAONGUYEN", "Trần Thị Bình", "7001")
    await add_officer(sessions, "CL-CAMLY", "Lê Văn Cụm", "7002")
    named, hidden = await _filed_by(talk, sessions, "900")
    # Binh starts a reply before the worker erases their data, and sends it after.
    await binh.press_payload(f"o:reply:{hidden.id}")
    await worker.say("/xoadulieu")
    await worker.press("Xoá dữ liệu của tôi")
    [added] = await binh.say("Chào bạn, công đoàn đã nhận.")
    assert added.text == (
        "Đã ghi vào KN-2026-000001, nhưng không còn liên lạc được với người lao động (họ đã "
        "xoá dữ liệu)."
    )
    async with sessions() as session:
        thread = (
            await session.scalars(
                select(CaseMessage).where(CaseMessage.case_id == named.id).order_by(CaseMessage.id)
            )
        ).all()
        detached = await count(sessions, AuditEntry, AuditEntry.action == "case.detached")
    # Recorded by the day only (NOW is 09:30 in Đà Lạt): an exact time shared by the
    # sender's cases would group their anonymous reports.
    start_of_day = NOW.replace(hour=0, minute=0) - timedelta(hours=7)
    assert [(m.author, m.text, m.created_at) for m in thread][1:] == [
        ("system", cases.DETACHED, start_of_day)
    ]
    async with sessions() as session:
        times = (
            await session.scalars(select(AuditEntry.at).where(AuditEntry.action == "case.detached"))
        ).all()
    assert detached == 2 and set(times) == {start_of_day}
    # /case shows the note where the contact details were, and the event in the thread.
    [shown] = await binh.say("/case GN-2026-000001")
    assert ERASED_NOTE in shown.text
    assert "Liên hệ:" not in shown.text and "thông tin liên hệ có trong hồ sơ" not in shown.text
    assert "Người gửi đã xoá dữ liệu của mình: hồ sơ này không còn liên kết tới họ." in shown.text
    [anonymous] = await binh.say("/case KN-2026-000001")
    assert "Ẩn danh: không ai được xem danh tính người gửi." in anonymous.text
    assert ERASED_NOTE in anonymous.text and "900" not in anonymous.text
    # Replying is refused up front; claiming and resolving tell nobody, and say so.
    [refused] = await binh.press_payload(f"o:reply:{named.id}")
    assert refused.text == (
        "GN-2026-000001: người gửi đã xoá dữ liệu của mình nên câu trả lời không đến được với "
        "họ nữa. Bạn có thể ghi chú nội bộ."
    )
    [claimed] = await binh.press("Nhận")
    assert claimed.text == (
        "Bạn đã nhận GN-2026-000001 (người gửi đã xoá dữ liệu của mình nên không ai được báo)."
    )
    [resolved] = await binh.press("Đóng")
    assert resolved.text == (
        "Đã đóng GN-2026-000001 (người gửi đã xoá dữ liệu của mình nên không ai được báo)."
    )
    # Moved up, the case is announced with the note too, and still names nobody.
    [moved, *alerts] = await binh.press_payload(f"o:up:{hidden.id}")
    assert moved.text.startswith("Đã chuyển KN-2026-000001 lên")
    assert [a.to.chat_id for a in alerts] == ["7002"]
    assert ERASED_NOTE in alerts[0].text and "900" not in alerts[0].text
