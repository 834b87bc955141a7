"""Reporting a problem: anonymous by default of consent, routed, due in working days, and no
identity readable in the case; identifying words in the story are pointed out first."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEntry, Case, CaseMessage, Person, Union
from tests.handlers.conftest import NOW, buttons, labels
from tests.scenarios import (
    COMPANY_UNION,
    MENU,
    OUTSIDE_UNION,
    STORY,
    add_officer,
    file_report,
    to_anonymity,
)
from tests.support import TEST_VAULT, count


async def test_an_anonymous_report_lands_in_the_right_queue_without_identity(talk, sessions, clock):
    worker = talk("900")
    await to_anonymity(worker)
    [review] = await worker.press("Tôi muốn ẩn danh")
    assert review.text == (
        "Bạn xem lại trước khi gửi nhé:\n"
        "• Vấn đề: Nợ lương, chậm lương\n"
        "• Nơi làm việc: Công ty TNHH Sữa Cao Nguyên\n"
        "• Sự việc: Công ty nợ lương hai tháng rồi, cả xưởng 40 người chưa ai được trả.\n"
        "• Từ khi nào: Từ 1 đến 6 tháng\n"
        "• Số người bị ảnh hưởng: Từ 11 đến 50 người\n"
        "• Tệp kèm theo: không có\n"
        "• Ẩn danh: Tôi muốn ẩn danh\n"
        # The dairy has its own union; an anonymous report goes outside it unless changed.
        "• Gửi tới: Công đoàn phường Cam Ly - Đà Lạt (công đoàn cấp trên, ngoài công ty)\n"
        "Vì bạn ẩn danh, mình gửi ra ngoài công ty. Muốn gửi cho công đoàn cơ sở ở công ty "
        "bạn thì bấm “Sửa” rồi chọn “Gửi tới”.\n"
        "Đúng rồi thì bấm “Gửi”; cần sửa thì bấm “Sửa”."
    )
    assert buttons(review) == [
        "f:grievance:review:send", "f:grievance:review:change",
        "f:grievance:review:-back", "f:grievance:review:-cancel",
    ]  # fmt: skip
    assert await count(sessions, Case) == 0  # nothing is sent before "Gửi"
    [done] = await worker.press("Gửi")
    pin = re.search(r"Mã PIN của bạn: (\d{6})\.", done.text).group(1)
    assert done.text == (
        "Mình đã nhận phản ánh của bạn. Mã hồ sơ: KN-2026-000001.\n"
        "Công đoàn phường Cam Ly - Đà Lạt sẽ trả lời bạn trước 17:00 thứ Sáu, "
        "27/11/2026; mục tiêu giải quyết xong trước 17:00 thứ Tư, 9/12/2026.\n"
        "Bạn đang ẩn danh: cán bộ không thấy tên, tài khoản hay số điện thoại của bạn. Câu "
        "trả lời sẽ gửi về đây; bạn theo dõi ở mục “Theo dõi hồ sơ”.\n"
        f"Mã PIN của bạn: {pin}. Hãy giữ kỹ: với mã hồ sơ và mã PIN này, bạn xem được hồ sơ "
        f"từ điện thoại hoặc tài khoản khác: /tracuu KN-2026-000001 {pin}"
    )
    assert buttons(done) == MENU
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
        person = (await session.scalars(select(Person))).one()
        thread = (await session.scalars(select(CaseMessage))).all()
        audit = (await session.scalars(select(AuditEntry))).all()
    assert (case.kind, case.category, case.anonymous, case.route_rule) == (
        "grievance", "wages", True, 1,
    )  # fmt: skip
    assert union.code == "CL-CAMLY"
    assert case.details == {
        "since": "months", "affected": "many", "workplace_text": "nha may sua cao nguyen",
        "ward_text": None,
    }  # fmt: skip
    # Nothing an officer reads links the case to the person: no person id, no channel id.
    assert case.person_id is None and case.contact_sealed is None
    readable = repr(
        [
            (c.name, getattr(case, c.name))
            for c in Case.__table__.columns
            if c.name not in ("reporter_sealed", "reporter_tag", "pin_tag")
        ]
    )
    assert "900" not in readable and f"'person_id', {person.id}" not in readable
    assert [(m.author, m.text) for m in thread] == [("worker", STORY)]
    assert all(entry.detail == {"kind": "grievance"} for entry in audit)
    # Only the key opens the sealed reporter, to relay officers' answers later.
    assert TEST_VAULT.open(case.reporter_sealed) == str(person.id)
    # Nothing the person's cases share groups them: the way back is the person's own sealed
    # list, and the case's time is kept to the hour.
    assert case.reporter_tag is None
    assert TEST_VAULT.open(person.cases_sealed) == f"[{case.id}]"
    assert case.created_at == NOW.replace(minute=0)
    assert case.first_response_due_at == NOW.replace(day=27, hour=10, minute=0)
    assert case.resolution_due_at == NOW.replace(month=12, day=9, hour=10, minute=0)
    # The reporter still finds it under "My requests"; another person does not.
    [mine] = await worker.press("Theo dõi hồ sơ")
    assert "KN-2026-000001 · Phản ánh · đã tiếp nhận" in mine.text
    assert "→ cán bộ trả lời trước 17:00 thứ Sáu, 27/11/2026" in mine.text
    other = talk("901")
    await other.say("/start")
    [theirs] = await other.press("Theo dõi hồ sơ")
    assert "KN-2026" not in theirs.text
    # From another account, the code and the PIN show the case; a wrong PIN shows nothing,
    # and five wrong tries in a day stop the guessing.
    [found] = await other.say(f"/tracuu kn-2026-000001 {pin}")
    assert found.text.startswith("KN-2026-000001 · Phản ánh · đã tiếp nhận")
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    for _ in range(5):
        [no] = await other.say(f"/tracuu KN-2026-000001 {wrong}")
        assert no.text == "Mã hồ sơ hoặc mã PIN chưa đúng."
    [locked] = await other.say(f"/tracuu KN-2026-000001 {pin}")
    assert locked.text == "Bạn đã nhập sai nhiều lần. Bạn thử lại vào ngày mai nhé."
    # Counted on the case, not on the account: a new account is stopped too, until tomorrow.
    [still] = await talk("903").say(f"/tracuu KN-2026-000001 {pin}")
    assert still.text == locked.text
    clock.now += timedelta(days=1)
    [again] = await talk("903").say(f"/tracuu KN-2026-000001 {pin}")
    assert again.text.startswith("KN-2026-000001 · Phản ánh")
    async with sessions() as session:
        stored = (await session.scalars(select(Case))).one()
    readable = [getattr(stored, c.name) for c in Case.__table__.columns if c.name != "pin_tag"]
    assert pin not in repr(readable) and stored.pin_tag != pin


async def test_a_named_report_asks_consent_before_keeping_the_phone(talk, sessions):
    worker = talk()
    await to_anonymity(worker)
    [consent] = await worker.press("Cán bộ được biết là tôi")
    assert consent.text.startswith("Bạn chọn để cán bộ biết là bạn.")
    [phone] = await worker.press("Tôi đồng ý")
    assert phone.text.startswith("Nếu muốn cán bộ gọi điện, bạn ghi số điện thoại.")
    [who] = await worker.say("0987 654 321")
    assert who.text.startswith("Bạn muốn gửi phản ánh cho ai?")
    [review] = await worker.press(COMPANY_UNION)
    assert (
        "• Ẩn danh: Cán bộ được biết là tôi\n• Số điện thoại: •••••••321\n"
        "• Gửi tới: Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên (công đoàn cơ sở ở công ty bạn)\n"
        "Đúng rồi thì bấm “Gửi”"
    ) in review.text
    [done, *_alerts] = await worker.press("Gửi")
    assert "Cán bộ sẽ trả lời bạn ở đây" in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        person = (await session.scalars(select(Person))).one()
        union = await session.get(Union, case.union_id)
    assert (case.anonymous, case.person_id, case.reporter_sealed) == (False, person.id, None)
    assert union.code == "GR-SUACAONGUYEN"  # the worker chose their company's union
    assert TEST_VAULT.open(case.contact_sealed) == '{"phone": "0987654321"}'


async def test_a_named_report_without_consent_goes_anonymous(talk, sessions):
    worker = talk()
    await to_anonymity(worker)
    await worker.press("Cán bộ được biết là tôi")
    [review] = await worker.press("Tôi không đồng ý")
    # Without consent the report goes anonymously, and the review says so.
    assert "• Ẩn danh: Tôi muốn ẩn danh\n" in review.text
    assert "Số điện thoại" not in review.text
    [done] = await worker.press("Gửi")
    assert "Bạn đang ẩn danh" in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        person = (await session.scalars(select(Person))).one()
    assert (case.anonymous, case.person_id, person.consent_at) == (True, None, None)


async def test_a_named_worker_chooses_the_union_outside_their_company(talk, sessions):
    await add_officer(sessions, "GR-SUACAONGUYEN", "Trần Thị Bình", "7001")
    await add_officer(sessions, "CL-CAMLY", "Lê Văn Cụm", "7002")
    worker = talk()
    await to_anonymity(worker)
    await worker.press("Cán bộ được biết là tôi")
    await worker.press("Tôi đồng ý")
    [who] = await worker.say("0987 654 321")
    assert who.text == (
        "Bạn muốn gửi phản ánh cho ai?\n"
        "• Công đoàn công ty bạn (Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên): ở ngay trong "
        "công ty; chủ tịch công đoàn đôi khi là một người quản lý của công ty.\n"
        "• Công đoàn cấp trên, ngoài công ty (Công đoàn phường Cam Ly - Đà Lạt): ở ngoài công "
        "ty; công đoàn công ty bạn không xem được phản ánh này."
    )
    assert labels(who) == [COMPANY_UNION, OUTSIDE_UNION, "Quay lại", "Huỷ"]
    [review] = await worker.press(OUTSIDE_UNION)
    assert (
        "• Số điện thoại: •••••••321\n"
        "• Gửi tới: Công đoàn phường Cam Ly - Đà Lạt (công đoàn cấp trên, ngoài công ty)\n"
        "Đúng rồi thì bấm “Gửi”"
    ) in review.text
    assert review.text.count("Gửi tới") == 1 and "Vì bạn ẩn danh" not in review.text
    [done, *alerts] = await worker.press("Gửi")
    assert "Công đoàn phường Cam Ly - Đà Lạt sẽ trả lời bạn" in done.text
    assert [a.to.chat_id for a in alerts] == ["7002"]  # never the company's union
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
    assert (union.code, case.route_rule, case.anonymous) == ("CL-CAMLY", 1, False)
    assert case.workplace_id is not None
    # It is in the chosen union's queue, and not in the company union's.
    [theirs] = await talk("7002", "telegram").say("/queue")
    assert "KN-2026-000001" in theirs.text
    [company] = await talk("7001", "telegram").say("/queue")
    assert company.text == "Hàng đợi trống: không có hồ sơ nào đang mở."


async def test_an_anonymous_worker_may_still_send_it_to_their_company_union(talk, sessions):
    worker = talk()
    await to_anonymity(worker)
    await worker.press("Tôi muốn ẩn danh")
    [which] = await worker.press("Sửa")
    assert labels(which)[-3:] == ["Gửi tới", "Quay lại", "Huỷ"]
    [who] = await worker.press("Gửi tới")
    assert who.text.startswith("Bạn muốn gửi phản ánh cho ai?")
    [review] = await worker.press(COMPANY_UNION)
    assert (
        "• Gửi tới: Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên (công đoàn cơ sở ở công ty bạn)\n"
        "Đúng rồi thì bấm “Gửi”"
    ) in review.text
    await worker.press("Gửi")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
    assert (union.code, case.anonymous) == ("GR-SUACAONGUYEN", True)


async def test_changing_anonymity_or_the_workplace_decides_the_receiver_again(talk, sessions):
    worker = talk()
    await to_anonymity(worker)
    await worker.press("Tôi muốn ẩn danh")  # the receiver: outside, without asking
    await worker.press("Sửa")
    await worker.press("Ẩn danh")
    await worker.press("Cán bộ được biết là tôi")
    await worker.press("Tôi đồng ý")
    [who] = await worker.press("Bỏ qua")  # no phone; now named, the worker is asked
    assert who.text.startswith("Bạn muốn gửi phản ánh cho ai?")
    [review] = await worker.press(COMPANY_UNION)
    assert "(công đoàn cơ sở ở công ty bạn)" in review.text
    # Another workplace, without its own union: nothing to choose, it goes to its ward's union.
    await worker.press("Sửa")
    await worker.press("Nơi làm việc")
    await worker.say("nha hang pho nui")
    [review] = await worker.press("Đúng rồi")
    assert review.text.startswith("Bạn xem lại trước khi gửi nhé:")
    assert "• Gửi tới" not in review.text
    assert "\nGửi tới: Công đoàn phường Xuân Hương - Đà Lạt.\n" in review.text
    await worker.press("Gửi")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        union = await session.get(Union, case.union_id)
    assert (union.code, case.route_rule) == ("CL-XUANHUONG", 2)


async def test_identifying_words_in_the_story_are_pointed_out(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Mất an toàn lao động")
    await worker.press("Bỏ qua")  # the workplace
    await worker.press("Bỏ qua")  # the ward
    [check] = await worker.say("Em tên là Lan, máy cắt không có che chắn, gọi em 0912 345 678")
    assert check.text.startswith(
        "Nội dung bạn viết có số điện thoại, tên người, có thể cho biết bạn là ai."
    )
    [again] = await worker.press("Viết lại")
    assert again.text.startswith("Chuyện gì đã xảy ra?")
    [since] = await worker.say("Máy cắt ở xưởng không có che chắn, đã có người bị thương")
    assert since.text == "Chuyện này xảy ra từ bao giờ?"
    await worker.press("Trong tuần này")
    await worker.press("Từ 2 đến 10 người")
    await worker.say("khong co")  # no evidence, typed
    [done, *_alerts] = await file_report(worker)
    assert "Liên đoàn Lao động tỉnh Lâm Đồng sẽ trả lời bạn" in done.text  # nothing to route by
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        [message] = (await session.scalars(select(CaseMessage.text))).all()
    assert case.route_rule == 4 and "0912" not in message and "Lan" not in message


async def test_a_too_short_story_and_forged_buttons_change_nothing(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Việc khác")
    await worker.say("5800100001")  # the hotel, by its tax code
    await worker.press("Đúng rồi")
    [short] = await worker.say("😡😡😡")
    assert short.text.startswith("Bạn kể ngắn gọn chuyện gì xảy ra giúp mình")
    refusal = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."
    for forged in ("f:grievance:story:-skip", "f:grievance:category:wages", "f:grievance:x:y"):
        assert [r.text for r in await worker.press_payload(forged)] == [refusal]
    # Starting another form asks which to keep; dropping this one is the worker's choice.
    [which] = await worker.press("Gia nhập công đoàn")
    assert which.text == (
        "Bạn chưa điền xong “Gửi phản ánh”. Nếu làm “Gia nhập công đoàn”, phần đang điền dở "
        "sẽ bị bỏ."
    )
    [story] = await worker.press("Tiếp tục “Gửi phản ánh”")
    assert story.text.startswith("Mình tiếp tục phần “Gửi phản ánh” nhé.\n\nChuyện gì đã")
    await worker.press_payload("join:start")  # from the menu further up
    [consent] = await worker.press("Bỏ phần đó, làm “Gia nhập công đoàn”")
    assert consent.text.startswith("Để đăng ký")
    assert await count(sessions, Case) == 0
