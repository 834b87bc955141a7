"""Officers on Telegram: linking, alerts, the queue, and each action, with the access rules
checked from every entry point (commands, buttons, the writing flow, alerts)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import access, accounts
from storage import cases, unions
from storage.models import AuditEntry, Case, CaseMessage, Officer, Person
from tests.handlers.conftest import NOW, buttons
from tests.scenarios import COMPANY_UNION, add_officer, file_report, to_anonymity
from tests.support import TEST_VAULT, count
from tests.untranslated import leaks

SUA = "GR-SUACAONGUYEN"  # grassroots, under CL-CAMLY, under FED-ROOT
WORKER_ID = "506"


async def file_anonymous_report(talk):
    """A worker on Telegram files an anonymous grievance and chooses to send it to their
    company's union, GR-SUACAONGUYEN."""
    worker = talk(WORKER_ID, "telegram")
    await to_anonymity(worker)
    return worker, await file_report(worker, recipient=COMPANY_UNION)


@pytest.fixture
async def setup(talk, sessions):
    """Officers of the case's union, of its cluster, of an unrelated union, and an admin;
    then the anonymous report."""
    ids = {
        "binh": await add_officer(sessions, SUA, "Trần Thị Bình", "7001"),
        "cluster": await add_officer(sessions, "CL-CAMLY", "Lê Văn Cụm", "7002"),
        "other": await add_officer(sessions, "GR-THONGXANH", "Phạm Khác", "7003"),
        "admin": await add_officer(sessions, "FED-ROOT", "Quản trị", "7004", role="admin"),
        "silent": await add_officer(sessions, SUA, "Chưa Liên Kết", None),
    }
    async with sessions() as session:
        await accounts.register_group(session, SUA, "-100555", NOW)
        await accounts.register_group(session, "GR-THONGXANH", "-100777", NOW)
        await session.commit()
    worker, replies = await file_anonymous_report(talk)
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    return ids, worker, replies, case


async def test_a_new_case_is_announced_to_its_union_only_without_identity(setup):
    _ids, _worker, replies, case = setup
    to_worker, *alerts = replies
    assert to_worker.to.chat_id == WORKER_ID
    assert sorted(a.to.chat_id for a in alerts) == ["-100555", "7001"]  # not 7002/7003/-100777
    text = alerts[0].text
    assert text.startswith("Hồ sơ mới trong hàng đợi của bạn:\nKN-2026-000001 · Phản ánh · ")
    assert "Ẩn danh: không ai được xem danh tính người gửi." in text
    assert "Nơi làm: Công ty TNHH Sữa Cao Nguyên · Phường/xã: Phường Cam Ly - Đà Lạt" in text
    assert WORKER_ID not in text and "Lan" not in text
    assert buttons(alerts[0]) == [
        f"o:claim:{case.id}", f"o:reply:{case.id}", f"o:note:{case.id}",
        f"o:move:{case.id}", f"o:close:{case.id}", f"o:view:{case.id}",
    ]  # fmt: skip


async def test_an_officer_works_the_case_from_claim_to_resolved(setup, talk, sessions):
    ids, worker, _replies, case = setup
    binh = talk("7001", "telegram")
    [queue] = await binh.say("/queue")
    assert queue.text.startswith("Hồ sơ đang mở (gấp nhất trước):\nKN-2026-000001 · mới · hạn")
    [claimed, told] = await binh.press_payload(f"o:claim:{case.id}")  # from the alert
    assert claimed.text.startswith("Bạn đã nhận KN-2026-000001.")
    assert (told.to.chat_id, told.text) == (
        WORKER_ID, "Hồ sơ KN-2026-000001 của bạn đã chuyển sang: đang xử lý.",
    )  # fmt: skip
    [prompt] = await binh.press("Trả lời")
    assert prompt.text.startswith("Viết câu trả lời cho người lao động về KN-2026-000001")
    answer = "Chào bạn, tuần này công đoàn sẽ làm việc với công ty về tiền lương."
    [sent, copied] = await binh.say(answer)
    assert sent.text == "Đã gửi cho người lao động (KN-2026-000001)."
    assert copied.to.chat_id == WORKER_ID and copied.text.endswith(answer)
    assert buttons(copied)[0] == "case:reply:KN-2026-000001"
    # The worker answers; the officer handling it is told.
    await worker.press_payload("case:reply:KN-2026-000001")  # under the copied answer
    [thanks, alert] = await worker.say("Dạ em cảm ơn, em chờ tin ạ")
    assert thanks.to.chat_id == WORKER_ID and alert.to.chat_id == "7001"
    assert alert.text == "Người lao động trả lời hồ sơ KN-2026-000001:\nDạ em cảm ơn, em chờ tin ạ"
    # An internal note never reaches the worker.
    await binh.press("Ghi chú")
    [noted] = await binh.say("Đã gọi phòng nhân sự, hẹn thứ Sáu.")
    assert noted.text == "Đã thêm ghi chú vào KN-2026-000001."
    [resolved, told] = await binh.press("Đóng")
    assert resolved.text == "Đã đóng KN-2026-000001. Người lao động đã được báo."
    assert told.to.chat_id == WORKER_ID and "đã giải quyết" in told.text
    async with sessions() as session:
        done = await session.get(Case, case.id)
        thread = (await session.scalars(select(CaseMessage.author).order_by(CaseMessage.id))).all()
        on_cases = select(AuditEntry.action).where(AuditEntry.action != "group.registered")
        actions = (await session.scalars(on_cases.order_by(AuditEntry.id))).all()
    assert (done.status, done.assignee_id) == ("resolved", ids["binh"])
    assert done.first_response_at == NOW
    assert thread == ["worker", "officer", "worker", "note"]
    assert actions == [
        "case.opened", "queue.viewed", "case.assigned", "case.status", "case.replied",
        "case.answered", "case.noted", "case.status",
    ]  # fmt: skip


async def test_no_officer_outside_the_union_tree_can_reach_the_case(setup, talk, sessions):
    _ids, _worker, _replies, case = setup
    other = talk("7003", "telegram")
    refusal = "Không có hồ sơ này trong hàng đợi của công đoàn bạn."
    for action in ("claim", "reply", "note", "move", "close", "view", "up"):
        [reply] = await other.press_payload(f"o:{action}:{case.id}")
        assert reply.text == refusal, action
    [reply] = await other.say("/case KN-2026-000001")
    assert reply.text == refusal
    [reply] = await other.say("/case kn-2026-999999")  # a code that does not exist: the same
    assert reply.text == refusal
    [empty] = await other.say("/queue")
    assert empty.text == "Hàng đợi trống: không có hồ sơ nào đang mở."
    async with sessions() as session:
        untouched = await session.get(Case, case.id)
        denied = await count(sessions, AuditEntry, AuditEntry.action == "case.denied")
    assert (untouched.status, untouched.assignee_id) == ("new", None)
    assert denied == 8


async def test_a_writing_flow_started_before_access_was_lost_changes_nothing(setup, talk, sessions):
    ids, _worker, _replies, case = setup
    binh = talk("7001", "telegram")
    await binh.press_payload(f"o:reply:{case.id}")
    async with sessions() as session:  # Bình moves to another union meanwhile
        officer = await session.get(Officer, ids["binh"])
        officer.union_id = (await session.get(Officer, ids["other"])).union_id
        await session.commit()
    [reply] = await binh.say("Chào bạn")
    assert reply.text == "Không có hồ sơ này trong hàng đợi của công đoàn bạn."
    assert await count(sessions, CaseMessage, CaseMessage.author == "officer") == 0


async def test_the_cluster_and_the_admin_see_the_case_below_them(setup, talk):
    _ids, _worker, _replies, case = setup
    for user in ("7002", "7004"):
        [detail] = await talk(user, "telegram").say("/case KN-2026-000001")
        assert detail.text.startswith("KN-2026-000001 · Phản ánh")
        assert "Công ty nợ lương hai tháng rồi" in detail.text
        assert buttons(detail)[0] == f"o:claim:{case.id}"


async def test_escalation_moves_a_grievance_up_out_of_the_origin_unions_sight(
    setup, talk, sessions
):
    _ids, _worker, _replies, case = setup
    binh = talk("7001", "telegram")
    [choices] = await binh.press_payload(f"o:move:{case.id}")  # from the alert
    assert buttons(choices) == [f"o:up:{case.id}", f"o:give:{case.id}:5"]  # the unlinked one
    done, *rest = await binh.press("Lên Công đoàn phường Cam Ly - Đà Lạt")
    assert done.text == (
        "Đã chuyển KN-2026-000001 lên Công đoàn phường Cam Ly - Đà Lạt. Để bảo vệ người lao "
        "động, công đoàn bạn không còn xem được hồ sơ này."
    )
    alerts = [r for r in rest if r.to.chat_id == "7002"]
    told = [r for r in rest if r.to.chat_id == WORKER_ID]
    assert len(alerts) == 1 and alerts[0].text.startswith("Hồ sơ mới trong hàng đợi của bạn:")
    assert "Công đoàn phường Cam Ly" in told[0].text
    # The company's union sees nothing of it any more, from any entry point: a case it
    # cannot reach looks like one that does not exist.
    refusal = "Không có hồ sơ này trong hàng đợi của công đoàn bạn."
    [detail] = await binh.say("/case KN-2026-000001")
    assert detail.text == refusal
    for action in ("view", "close", "reply"):  # the buttons of the alert it had
        [refused] = await binh.press_payload(f"o:{action}:{case.id}")
        assert refused.text == refusal, action
    [in_group] = await binh.press_payload(f"o:view:{case.id}", chat="-100555")
    assert in_group.text == refusal
    [queue] = await binh.say("/queue")
    assert queue.text == "Hàng đợi trống: không có hồ sơ nào đang mở."
    # The union above works it.
    [theirs] = await talk("7002", "telegram").say("/case KN-2026-000001")
    assert theirs.text.startswith("KN-2026-000001") and buttons(theirs)[0] == f"o:claim:{case.id}"
    async with sessions() as session:
        moved = await session.get(Case, case.id)
        scope = access.Scope(0, 0, frozenset({moved.origin_union_id}))
        denied = await count(sessions, AuditEntry, AuditEntry.action == "case.denied")
    assert moved.escalated and moved.union_id != moved.origin_union_id
    assert not scope.can_view(moved) and not scope.can_act(moved)
    assert denied == 5


async def test_after_escalation_the_origin_still_reads_a_membership_request(setup, talk, sessions):
    # A request to join says nothing against the employer, and the company's union is where
    # the worker would belong: it keeps reading it (not acting on it).
    _ids, _worker, _replies, case = setup
    async with sessions() as session:
        joining = await session.get(Case, case.id)
        joining.kind = "membership"
        await session.commit()
    binh = talk("7001", "telegram")
    await binh.press_payload(f"o:move:{case.id}")
    [done, *_rest] = await binh.press("Lên Công đoàn phường Cam Ly - Đà Lạt")
    assert done.text.endswith("Công đoàn bạn vẫn xem được hồ sơ.")
    [detail] = await binh.say("/case KN-2026-000001")
    assert detail.text.startswith("KN-2026-000001") and buttons(detail) == []
    [refused] = await binh.press_payload(f"o:close:{case.id}")
    assert refused.text == "Không có hồ sơ này trong hàng đợi của công đoàn bạn."


async def test_a_button_in_the_registered_group_is_answered_there(setup, talk):
    _ids, _worker, _replies, case = setup
    binh = talk("7001", "telegram")
    [detail] = await binh.press_payload(f"o:view:{case.id}", chat="-100555")
    assert detail.to.chat_id == "-100555" and detail.text.startswith("KN-2026-000001")
    # Writing a reply is asked for in the officer's private chat, never in the group.
    [prompt] = await binh.press_payload(f"o:reply:{case.id}", chat="-100555")
    assert prompt.to.chat_id == "7001"
    # In a group that is not registered, the answer goes to the officer privately.
    [private] = await binh.press_payload(f"o:view:{case.id}", chat="-100999")
    assert private.to.chat_id == "7001" and private.text.startswith("KN-2026-000001")


async def test_people_who_are_not_officers_see_nothing_of_this(setup, talk):
    _ids, worker, _replies, case = setup
    [unknown] = await worker.say("/queue")
    assert unknown.text.startswith("Mình không hiểu lệnh /queue.")
    [stale] = await worker.press_payload(f"o:claim:{case.id}")
    assert stale.text == "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."
    for forged in ("o:claim", "o:claim:x", "o:claim:1:2:3", "o:nope:1"):
        [stale] = await talk("7001", "telegram").press_payload(forged)
        assert stale.text.startswith("Nút này không còn dùng được")
    # The terminal (or any other channel) is never an officer, whatever its user id.
    [unknown] = await talk("7001").say("/queue")
    assert unknown.text.startswith("Mình không hiểu lệnh /queue.")


async def test_linking_telegram_with_a_one_time_code(talk, sessions, clock):
    async with sessions() as session:
        officer = await accounts.add_officer(
            session, union_code=SUA, name="Bình", role="officer", now=NOW
        )
        code = accounts.invite(officer, TEST_VAULT, NOW).code
        await session.commit()
    newcomer = talk("8001", "telegram")
    [wrong] = await newcomer.say("/canbo AAAAA-BBBBB")
    assert wrong.text.startswith("Mã không đúng hoặc đã hết hạn.")
    [linked] = await newcomer.say(f"/canbo {code.lower().replace('-', ' ')}")
    assert linked.text.startswith("Đã liên kết: bạn là Bình, Công đoàn cơ sở Công ty TNHH Sữa")
    [again] = await talk("8002", "telegram").say(f"/canbo {code}")  # one time only
    assert again.text.startswith("Mã không đúng")
    async with sessions() as session:
        officer = (await session.scalars(select(Officer))).one()
        late = accounts.invite(officer, TEST_VAULT, NOW)
        await session.commit()
    assert officer.telegram_user_id == "8001"
    clock.now = NOW + timedelta(days=accounts.INVITE_DAYS, seconds=1)
    [expired] = await talk("8003", "telegram").say(f"/canbo {late.code}")
    assert expired.text.startswith("Mã không đúng")


async def test_the_case_view_names_the_time_to_call_in_words(talk, sessions):
    await add_officer(sessions, SUA, "Trần Thị Bình", "7001")
    async with sessions() as session:
        union = await unions.by_code(session, SUA)
        await cases.open(
            session, kind="membership", union_id=union.id, person_id=None, text="Gia nhập",
            now=NOW, category="contract", details={"contract": "contract"},
            contact_sealed=TEST_VAULT.seal(
                '{"name": "Lan", "phone": "0912345678", "contact_time": "evening"}'
            ),
        )  # fmt: skip
        await session.commit()
    [shown] = await talk("7001", "telegram").say("/case GN-2026-000001")
    assert "Liên hệ: Lan · 0912345678 · Buổi tối" in shown.text
    assert leaks(shown.text) == []  # no "evening", nor anything else untranslated


async def test_an_officer_confirms_an_admission_on_telegram(talk, sessions):
    """The dashboard's "confirm admission" is one tap on Telegram too (bot/services/casework.py
    does it for both); the officer takes the case nobody held, the worker is told, and a
    second tap changes nothing."""
    binh = await add_officer(sessions, SUA, "Trần Thị Bình", "7001")
    worker = talk("507", "telegram")
    await worker.say("/start")
    async with sessions() as session:
        person = (
            await session.scalars(select(Person).where(Person.channel_user_id == "507"))
        ).one()
        union = await unions.by_code(session, SUA)
        await cases.open(
            session, kind="membership", union_id=union.id, person_id=person.id, text="Gia nhập",
            now=NOW, category="contract", details={"contract": "contract"},
        )  # fmt: skip
        await session.commit()
    officer = talk("7001", "telegram")
    await officer.say("/case GN-2026-000001")
    confirmed, told = await officer.press("Xác nhận: đã kết nạp đoàn viên")
    assert confirmed.text.startswith("GN-2026-000001: đã xác nhận kết nạp")
    assert told.to.chat_id == "507" and "đã chuyển sang: đã giải quyết" in told.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        assert case.status == "resolved" and case.details["admitted_at"] == "2026-11-25"
        assert case.assignee_id == binh
    assert await count(sessions, AuditEntry, AuditEntry.action == "member.admitted") == 1
    [again] = await officer.press_payload(f"o:admit:{case.id}")
    assert again.text == "GN-2026-000001: việc kết nạp đã được xác nhận rồi."
    # A forged press on a grievance is refused.
    await file_anonymous_report(talk)
    async with sessions() as session:
        report = (await session.scalars(select(Case).where(Case.kind == "grievance"))).one()
    [refused] = await officer.press_payload(f"o:admit:{report.id}")
    assert refused.text.startswith("Nút này không còn dùng được")
