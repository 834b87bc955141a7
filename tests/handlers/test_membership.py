"""Registering interest in membership through the form engine: consent first, personal data
sealed, the workplace routed, and every way a worker can go astray answered."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from handlers.types import Attachment, Incoming
from storage.models import AuditEntry, Case, CaseMessage, Conversation, Person, Union, Workplace
from tests.handlers.conftest import NOW, buttons
from tests.scenarios import MENU
from tests.support import TEST_VAULT, count

PEOPLE = itertools.count()
REFUSAL = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."


async def to_workplace(worker):
    """Start the form, agree, and give a name and phone: the workplace question is next."""
    await worker.say("/start")
    [consent] = await worker.press("Gia nhập công đoàn")
    assert consent.text.startswith("Để đăng ký, mình cần họ tên, số điện thoại")
    assert buttons(consent) == [
        "f:membership:consent:yes", "f:membership:consent:no", "f:membership:consent:-cancel",
    ]  # fmt: skip
    [name] = await worker.press("Tôi đồng ý")
    assert name.text == "Họ tên đầy đủ của bạn là gì?"
    [phone] = await worker.say("Nguyễn Văn An")
    assert phone.text == "Công đoàn gọi cho bạn qua số điện thoại nào?"
    [workplace] = await worker.say("+84 912.345.678")
    assert workplace.text.startswith("Bạn làm ở đâu?")
    return workplace


async def test_registering_interest_opens_a_routed_case_with_sealed_contact(talk, sessions):
    worker = talk()
    await to_workplace(worker)
    [check] = await worker.say("cty sua cao nguyen")
    assert check.text == "Mình hiểu là Công ty TNHH Sữa Cao Nguyên, đúng không?"
    [contract] = await worker.press("Đúng rồi")  # known: the ward is not asked
    assert contract.text == "Bạn có hợp đồng lao động không?"
    [call] = await worker.press("Có, tôi có hợp đồng lao động")
    assert "f:membership:contact_time:-skip" in buttons(call)
    [review] = await worker.press("Buổi sáng")
    assert review.text == (
        "Bạn xem lại trước khi gửi nhé:\n"
        "• Họ tên: Nguyễn Văn An\n"
        "• Số điện thoại: •••••••678\n"  # the review is a chat message: the number is masked
        "• Nơi làm việc: Công ty TNHH Sữa Cao Nguyên\n"
        "• Hợp đồng lao động: Có, tôi có hợp đồng lao động\n"
        "• Giờ tiện gọi: Buổi sáng\n"
        "Gửi tới: Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên.\n"
        "Đúng rồi thì bấm “Gửi”; cần sửa thì bấm “Sửa”."
    )
    assert await count(sessions, Case) == 0
    [done, *_alerts] = await worker.press("Gửi")
    assert done.text == (
        "Cảm ơn bạn! Mình đã ghi nhận đăng ký. Mã hồ sơ: GN-2026-000001.\n"
        "Cán bộ Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên sẽ gọi cho bạn trước "
        "17:00 thứ Hai, 30/11/2026.\n"  # three working days from Wednesday 25 November
        "Có hợp đồng lao động thì bạn gia nhập công đoàn cơ sở nơi làm việc; nơi chưa có "
        "công đoàn cơ sở thì công đoàn cấp trên hướng dẫn bạn và giúp thành lập."
    )
    assert buttons(done) == MENU
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
        workplace = await session.get(Workplace, case.workplace_id)
        person = (await session.scalars(select(Person))).one()
        thread = (await session.scalars(select(CaseMessage.text))).all()
        audit = (await session.scalars(select(AuditEntry.detail))).all()
        state = (await session.scalars(select(Conversation.state))).one()
    assert (case.kind, case.category, case.status, case.route_rule) == (
        "membership", "contract", "new", 1,
    )  # fmt: skip
    assert union.code == "GR-SUACAONGUYEN" and workplace.name == "Công ty TNHH Sữa Cao Nguyên"
    assert (
        case.first_response_due_at
        == case.due_at
        == NOW.replace(hour=10, minute=0) + timedelta(days=5)
    )
    assert TEST_VAULT.open(case.contact_sealed) == (
        '{"name": "Nguyễn Văn An", "phone": "0912345678", "contact_time": "morning"}'
    )
    assert TEST_VAULT.open(person.phone_encrypted) == "0912345678"
    # The day of the agreement (midnight in Đà Lạt), not its time: a time could be matched.
    assert person.consent_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    # Name and phone are nowhere in the clear: not in the thread, the audit log or the state.
    everything = repr((thread, audit, state, case.details))
    assert "0912" not in everything and "Nguyễn Văn An" not in everything
    assert thread[0].startswith("Đăng ký gia nhập công đoàn.\nNơi làm việc: Công ty TNHH Sữa")
    assert state == {}
    [mine] = await worker.press("Theo dõi hồ sơ")
    assert "GN-2026-000001 · Gia nhập · đã tiếp nhận" in mine.text


async def test_an_unknown_workplace_is_routed_by_its_ward_or_to_the_federation(talk, sessions):
    first = talk("901")
    await to_workplace(first)
    [ward] = await first.say("quán phở cô Ba")
    assert ward.text.startswith("Nơi làm việc của bạn ở phường, xã nào?")
    await first.say("p9")  # Phường 9 is now part of Lâm Viên
    await first.press("Không có hợp đồng / làm tự do")
    [review] = await first.press("Bỏ qua")
    assert "• Nơi làm việc: quán phở cô Ba (chưa có trong danh sách)\n" in review.text
    assert "• Phường/xã: Phường Lâm Viên - Đà Lạt\n" in review.text
    assert "• Giờ tiện gọi: (chưa ghi)\n" in review.text
    [done, *_alerts] = await first.press("Gửi")
    assert "Cán bộ Công đoàn phường Lâm Viên - Đà Lạt sẽ gọi" in done.text
    assert "nghiệp đoàn cơ sở" in done.text

    second = talk("902")
    await to_workplace(second)
    await second.say("quán phở cô Ba")
    await second.press("Bỏ qua")
    await second.press("Người nước ngoài, hợp đồng từ 12 tháng trở lên")
    await second.press("Lúc nào cũng được")
    [done, *_alerts] = await second.press("Gửi")
    assert "Cán bộ Liên đoàn Lao động tỉnh Lâm Đồng sẽ gọi" in done.text
    async with sessions() as session:
        rules = (await session.scalars(select(Case.route_rule).order_by(Case.id))).all()
    assert rules == [3, 4]


async def test_two_equally_good_workplaces_are_not_guessed(talk, sessions):
    async with sessions() as session:
        ward_id = (await session.scalars(select(Workplace.ward_id))).first()
        union = (await session.scalars(select(Union).where(Union.code == "GR-HOAVIEN"))).one()
        session.add_all(
            [
                Workplace(name="Công ty TNHH Hoa Mai", aliases=[], ward_id=ward_id,
                          union_id=union.id),
                Workplace(name="Công ty CP Hoa Mai", aliases=[], ward_id=ward_id),
            ]
        )  # fmt: skip
        await session.commit()
    worker = talk()
    await to_workplace(worker)
    [which] = await worker.say("cty hoa mai")
    assert which.text == "Có vài nơi làm việc trùng tên này. Nơi nào là chỗ bạn làm?"
    assert [b.label for row in which.buttons for b in row][:3] == [
        "Công ty TNHH Hoa Mai", "Công ty CP Hoa Mai", "Không phải các nơi này",
    ]  # fmt: skip
    await worker.press("Công ty TNHH Hoa Mai")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Bỏ qua")
    [done, *_alerts] = await worker.press("Gửi")
    assert "Công đoàn cơ sở Công ty TNHH Hoa Viên Đà Lạt" in done.text


async def test_bad_answers_get_a_clear_reason_and_the_same_question(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    for bad, reason in [
        ("😀😀", "Bạn ghi họ tên bằng chữ giúp mình (từ 2 đến 60 ký tự)."),
        ("Lan 123", "Bạn ghi họ tên bằng chữ giúp mình (từ 2 đến 60 ký tự)."),
        ("x" * 1001, "Câu trả lời dài quá (tối đa 1000 ký tự)."),
    ]:
        [again] = await worker.say(bad)
        assert again.text == f"{reason}\n\nHọ tên đầy đủ của bạn là gì?"
    [photo] = await worker.send(
        Incoming("terminal", "900", "900", attachments=(Attachment("photo"),))
    )
    assert photo.text.startswith("Bạn trả lời bằng chữ hoặc bấm một nút giúp mình nhé.")
    await worker.say("Lan")
    for bad in ("12345", "0123 456 789", "091234567", "gọi em nhé"):
        [again] = await worker.say(bad)
        assert again.text.startswith("Số này chưa đúng dạng số di động Việt Nam.")
    [back] = await worker.press("Quay lại")
    assert back.text == "Họ tên đầy đủ của bạn là gì?"
    # A button from an earlier step, an unknown choice, another form: refused, nothing changes.
    async with sessions() as session:
        before = (await session.scalars(select(Conversation.state))).one()
    for stale in (
        "f:membership:phone:-back",
        "f:membership:contract:contract",
        "f:membership:name:-skip",
        "f:grievance:name:x",
        "f:membership",
    ):
        assert [r.text for r in await worker.press_payload(stale)] == [REFUSAL], stale
    async with sessions() as session:
        assert (await session.scalars(select(Conversation.state))).one() == before
    [sure] = await worker.say("huỷ")  # where text is expected, the bot asks first
    assert sure.text == "Bạn muốn huỷ phần đang điền? Chưa có gì được gửi đi."
    [cancelled] = await worker.say("có")
    assert cancelled.text.startswith("Đã huỷ, chưa có gì được gửi đi.")
    assert await count(sessions, Case) == 0


async def test_without_consent_nothing_personal_is_asked_or_kept(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    # Registering needs a name and a phone: without consent the form ends at once, instead
    # of asking four more questions for nothing.
    [done] = await worker.press("Tôi không đồng ý")
    assert done.text.startswith("Không có sự đồng ý của bạn thì mình không được lưu họ tên")
    assert buttons(done) == MENU
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
    assert (person.consent_at, person.phone_encrypted) == (None, None)
    assert await count(sessions, Case) == 0


async def test_a_form_left_too_long_expires_and_says_so(talk, clock, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    clock.now = NOW + timedelta(days=8)
    [late] = await worker.say("Nguyễn Văn An")
    assert late.text.startswith("Phần bạn bắt đầu điền ngày 25/11/2026 chưa xong sau 7")
    assert buttons(late) == MENU
    async with sessions() as session:
        assert (await session.scalars(select(Conversation.state))).one() == {}


async def test_a_second_person_is_asked_for_consent_only_once(talk):
    worker = talk()
    await to_workplace(worker)
    await worker.say("cty sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Bỏ qua")
    await worker.press("Gửi")
    [name] = await worker.press("Gia nhập công đoàn")  # again: consent was given already
    assert name.text == "Họ tên đầy đủ của bạn là gì?"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
async def test_any_text_in_any_field_gets_an_answer(talk, text):
    worker = talk(f"h{next(PEOPLE)}")  # a new person each time: flood control counts per person
    await worker.say("/start")
    await worker.press_payload("join:start")
    await worker.press_payload("f:membership:consent:yes")
    for _ in range(3):
        replies = await worker.say(text or " ")
        assert replies and all(r.text for r in replies)
