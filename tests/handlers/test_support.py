"""Asking for hardship support: an HT- case routed like the others, no amount promised, and
without consent sent like an anonymous report."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case, Person, Union
from tests.scenarios import MENU
from tests.support import TEST_VAULT


async def to_phone(worker):
    await worker.say("/start")
    [what] = await worker.press("Hỗ trợ khó khăn")
    assert what.text == "Bạn đang gặp chuyện gì?"
    await worker.press("Tai nạn lao động")
    await worker.press("Rất gấp (trong tuần này)")
    [proof] = await worker.say("Em bị máy kẹp tay, nghỉ làm 2 tháng, nhà còn hai con nhỏ")
    # One line that shows the worker was heard, before the next question.
    assert proof.text.startswith(
        "Mình rất tiếc về tai nạn của bạn. Mong bạn mau bình phục.\n\n"
        "Bạn có giấy tờ cho thấy hoàn cảnh của mình không"
    )
    await worker.press("Xong, tiếp tục")
    await worker.press("Có, tôi là đoàn viên")
    [check] = await worker.say("hoa vien")
    assert check.text == "Mình hiểu là Công ty TNHH Hoa Viên Đà Lạt, đúng không?"
    [consent] = await worker.press("Đúng rồi")
    assert consent.text.startswith("Để xem xét yêu cầu, công đoàn cần biết đó là bạn")
    return consent


async def test_a_support_request_with_consent_is_linked_and_routed(talk, sessions):
    worker = talk()
    await to_phone(worker)
    [phone] = await worker.press("Tôi đồng ý")
    assert phone.text.startswith("Công đoàn gọi cho bạn qua số nào?")
    [review] = await worker.say("0912345678")
    assert review.text == (
        "Bạn xem lại trước khi gửi nhé:\n"
        "• Hoàn cảnh: Tai nạn lao động\n"
        "• Mức độ gấp: Rất gấp (trong tuần này)\n"
        "• Sự việc: Em bị máy kẹp tay, nghỉ làm 2 tháng, nhà còn hai con nhỏ\n"
        "• Tệp kèm theo: không có\n"
        "• Đoàn viên công đoàn: Có, tôi là đoàn viên\n"
        "• Nơi làm việc: Công ty TNHH Hoa Viên Đà Lạt\n"
        "• Số điện thoại: •••••••678\n"
        "Gửi tới: Công đoàn cơ sở Công ty TNHH Hoa Viên Đà Lạt.\n"
        "Cán bộ sẽ biết yêu cầu này là của bạn và trả lời bạn tại đây.\n"
        "Đúng rồi thì bấm “Gửi”; cần sửa thì bấm “Sửa”."
    )
    [done, *_alerts] = await worker.press("Gửi")
    assert done.text.startswith(
        "Mình đã nhận yêu cầu của bạn. Mã hồ sơ: HT-2026-000001.\n"
        "Cán bộ Công đoàn cơ sở Công ty TNHH Hoa Viên Đà Lạt sẽ trả lời bạn trước "
        "17:00 thứ Sáu, 27/11/2026"
    )
    assert "tùy quy định và nguồn quỹ" in done.text
    assert [b.payload for row in done.buttons for b in row] == MENU
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
        person = (await session.scalars(select(Person))).one()
    assert (case.kind, case.category, case.anonymous, union.code) == (
        "support", "work_accident", False, "GR-HOAVIEN",
    )  # fmt: skip
    assert case.person_id == person.id and case.details["urgency"] == "now"
    assert TEST_VAULT.open(case.contact_sealed) == '{"phone": "0912345678"}'


async def test_without_consent_the_request_goes_without_a_name(talk, sessions):
    worker = talk()
    await to_phone(worker)
    [review] = await worker.press("Tôi không đồng ý")
    assert "Yêu cầu được gửi không kèm tên bạn; cán bộ trả lời bạn tại đây." in review.text
    assert "Số điện thoại" not in review.text
    [done, *_alerts] = await worker.press("Gửi")
    assert "HT-2026-000001" in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.anonymous, case.person_id, case.contact_sealed) == (True, None, None)
    [mine] = await worker.press("Theo dõi hồ sơ")
    assert "HT-2026-000001 · Hỗ trợ" in mine.text
