"""Broadcasts composed on Telegram (/thongbao) and approved there (/duyet, the Approve
button): what the officer sees before sending, what is saved, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.broadcasts import MAX_BODY
from storage import cases, people, subscriptions, unions
from storage.models import AuditEntry, Broadcast, Conversation, Person
from tests.handlers.conftest import NOW, buttons, labels
from tests.scenarios import add_officer
from tests.support import count

SUA = "GR-SUACAONGUYEN"  # grassroots, under CL-CAMLY, under FED-ROOT
TEXT = "Hội nghị người lao động Công ty Sữa Cao Nguyên họp lúc 14:00 thứ Sáu tại nhà ăn."
FOOTER = "Để không nhận các tin này nữa, bạn gửi /dung."
STALE = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."


async def add_worker(
    sessions, user: str, union: str | None, topics: set[str], *, channel: str = "telegram",
    blocked: bool = False,
) -> None:  # fmt: skip
    """A worker subscribed to `topics`, linked to `union` by a case filed under their name."""
    async with sessions() as session:
        person = await people.create(session, channel, user, "vi", NOW)
        person.blocked = blocked
        await subscriptions.subscribe(session, person.id, topics, NOW)
        if union is not None:
            found = await unions.by_code(session, union)
            await cases.open(
                session, kind="question", union_id=found.id, person_id=person.id,
                text="Cho em hỏi", now=NOW,
            )  # fmt: skip
        await session.commit()


@pytest.fixture
async def setup(database, sessions):
    """Officers (one of the company's union, one elsewhere, two linked admins of the root and
    an unlinked one) and the workers: for the company's union, 2 on policy news and 1 on
    support programmes; 4 on policy news across the federation."""
    ids = {
        "binh": await add_officer(sessions, SUA, "Trần Thị Bình", "7001"),
        "other": await add_officer(sessions, "GR-THONGXANH", "Phạm Khác", "7003"),
        "admin": await add_officer(sessions, "FED-ROOT", "Quản Trị Một", "7004", role="admin"),
        "second": await add_officer(sessions, "FED-ROOT", "Quản Trị Hai", "7005", role="admin"),
        "unlinked": await add_officer(sessions, "FED-ROOT", "Quản Trị Ba", None, role="admin"),
    }
    await add_worker(sessions, "601", SUA, {"policy"})
    await add_worker(sessions, "602", SUA, {"policy", "support"}, channel="zalo")
    await add_worker(sessions, "603", SUA, {"policy"}, blocked=True)  # left the bot
    await add_worker(sessions, "604", "GR-THONGXANH", {"policy"})
    await add_worker(sessions, "605", SUA, set())  # subscribed to nothing
    await add_worker(sessions, "606", None, {"policy"})  # no case: the federation only
    await add_worker(sessions, "607", SUA, {"policy"}, channel="terminal")  # unreachable
    return ids


def preview(text: str, recipients: str) -> str:
    return (
        f"Xem trước: người lao động sẽ nhận đúng tin này:\n\n{text}\n\n{FOOTER}\n\n"
        f"{recipients}\n\nBạn chọn loại tin rồi bấm Gửi. Muốn sửa nội dung, bạn gửi lại tin mới."
    )


def to_company(count: int, topic: str) -> str:
    return (
        f"Người nhận: {count} người lao động đã đăng ký nhận “{topic}”, thuộc Công đoàn cơ sở "
        "Công ty TNHH Sữa Cao Nguyên và các công đoàn cấp dưới."
    )


async def saved(sessions) -> list[Broadcast]:
    async with sessions() as session:
        return list(await session.scalars(select(Broadcast).order_by(Broadcast.id)))


async def test_an_officer_previews_switches_topic_and_sends_to_their_union(setup, talk, sessions):
    ids = setup
    binh = talk("7001", "telegram")
    [ask] = await binh.say("/thongbao")
    assert ask.text.startswith("Bạn viết nội dung thông báo cho người lao động trong một tin")
    [shown] = await binh.say(TEXT)
    assert shown.text == preview(TEXT, to_company(2, "Tin chính sách"))
    assert labels(shown) == [
        "✓ Tin chính sách", "Hoạt động công đoàn", "Chương trình hỗ trợ", "Gửi", "Huỷ",
    ]  # fmt: skip
    first_send = buttons(shown)[3]
    [support] = await binh.press("Chương trình hỗ trợ")
    assert support.text == preview(TEXT, to_company(1, "Chương trình hỗ trợ"))
    [policy] = await binh.press("Tin chính sách")
    assert to_company(2, "Tin chính sách") in policy.text
    [stale] = await binh.press_payload(first_send)  # an older preview's button
    assert stale.text == STALE
    [sent] = await binh.press_payload(buttons(policy)[3])
    assert sent.text == (
        "Thông báo #1 đang được gửi. Theo dõi tiến độ trên trang quản lý: /officer/broadcasts/1"
    )
    [broadcast] = await saved(sessions)
    async with sessions() as session:
        union = await unions.by_code(session, SUA)
        audited = (await session.scalars(select(AuditEntry.action))).all()
    assert (broadcast.status, broadcast.union_id, broadcast.author_id) == (
        "scheduled", union.id, ids["binh"],
    )  # fmt: skip
    assert (broadcast.topic, broadcast.text, broadcast.whole_federation) == ("policy", TEXT, False)
    assert broadcast.send_at == NOW
    assert "broadcast.created" in audited
    # The draft is gone: its buttons change nothing any more.
    [again] = await binh.press_payload(buttons(policy)[3])
    assert again.text == STALE
    assert len(await saved(sessions)) == 1


async def test_the_text_may_come_with_the_command_and_is_bounded(setup, talk, sessions):
    binh = talk("7001", "telegram")
    [shown] = await binh.say(f"/thongbao {TEXT}")
    assert shown.text == preview(TEXT, to_company(2, "Tin chính sách"))
    # A new text replaces the draft's and keeps its topic.
    await binh.press("Chương trình hỗ trợ")
    tet = "Đã có chương trình hỗ trợ Tết."
    [edited] = await binh.say(tet)
    assert edited.text == preview(tet, to_company(1, "Chương trình hỗ trợ"))
    [refused] = await binh.say("/thongbao " + "a" * (MAX_BODY + 1))
    assert refused.text == (
        f"Tin này quá dài để đọc trên điện thoại: {MAX_BODY + 1} ký tự, tối đa {MAX_BODY}. "
        "Bạn rút gọn rồi gửi lại nhé."
    )
    assert buttons(refused) == []
    [stale] = await binh.press_payload(buttons(edited)[3])  # the dropped draft's Send
    assert stale.text == STALE
    [shown] = await binh.say("a" * MAX_BODY)  # the flow waits for a shorter one
    assert shown.text.startswith("Xem trước:") and labels(shown)[-2:] == ["Gửi", "Huỷ"]
    assert await saved(sessions) == []


async def test_people_who_are_not_officers_cannot_broadcast(setup, talk, sessions):
    worker = talk("601", "telegram")
    [unknown] = await worker.say(f"/thongbao {TEXT}")
    assert unknown.text.startswith("Mình không hiểu lệnh /thongbao.")
    [unknown] = await worker.say("/duyet 1")
    assert unknown.text.startswith("Mình không hiểu lệnh /duyet.")
    for payload in ("bc:send:1", "bc:topic:1:policy", "bc:drop:1", "bc:approve:1"):
        [stale] = await worker.press_payload(payload)
        assert stale.text == STALE, payload
    # The terminal is never an officer, whatever its user id; nor is an unknown user.
    [unknown] = await talk("7001").say("/thongbao")
    assert unknown.text.startswith("Mình không hiểu lệnh /thongbao.")
    [stale] = await talk("999", "telegram").press_payload("bc:approve:1")
    assert stale.text == STALE
    assert await saved(sessions) == []
    async with sessions() as session:
        worker_row = select(Person).where(Person.channel_user_id == "601")
        person = (await session.scalars(worker_row)).one()
        state = await session.scalar(
            select(Conversation.state).where(Conversation.person_id == person.id)
        )
    assert not (state or {}).get("flow")


async def test_cancelling_sends_nothing(setup, talk, sessions):
    binh = talk("7001", "telegram")
    [shown] = await binh.say(f"/thongbao {TEXT}")
    [dropped] = await binh.press("Huỷ")
    assert dropped.text == "Đã huỷ, chưa có gì được gửi đi."
    [stale] = await binh.press_payload(buttons(shown)[3])
    assert stale.text == STALE
    [shown] = await binh.say(f"/thongbao {TEXT}")
    [cancelled] = await binh.say("/huy")
    assert cancelled.text.startswith("Đã huỷ.")
    [stale] = await binh.press_payload(buttons(shown)[3])
    assert stale.text == STALE
    # After /huy a text is a question again, not a broadcast.
    await binh.say("Lương tối thiểu vùng là bao nhiêu?")
    assert await saved(sessions) == []


async def test_the_whole_federation_waits_for_a_second_admin(setup, talk, sessions):
    ids = setup
    admin = talk("7004", "telegram")
    [shown] = await admin.say(f"/thongbao {TEXT}")
    assert shown.text == preview(
        TEXT,
        "Người nhận: 4 người lao động trong toàn Liên đoàn đã đăng ký nhận “Tin chính sách”.\n\n"
        "Tin gửi toàn Liên đoàn nên cần một quản trị viên khác duyệt trước khi gửi.",
    )
    [waits, asked] = await admin.press("Gửi")
    assert waits.text.startswith("Đã lưu thông báo #1. Tin gửi toàn Liên đoàn nên chờ một quản")
    assert waits.text.endswith("/officer/broadcasts/1")
    assert asked.to.chat_id == "7005"  # not the author, not the unlinked admin
    assert asked.text == (
        "Quản Trị Một đề nghị bạn duyệt thông báo gửi toàn Liên đoàn (#1, “Tin chính sách”, "
        f"hiện có 4 người nhận). Người lao động sẽ nhận:\n\n{TEXT}\n\n{FOOTER}\n\n"
        "Bạn bấm Duyệt bên dưới, hoặc gửi /duyet 1."
    )
    assert (labels(asked), buttons(asked)) == (["Duyệt"], ["bc:approve:1"])
    [broadcast] = await saved(sessions)
    assert (broadcast.status, broadcast.whole_federation) == ("awaiting_approval", True)
    # The author cannot approve it, nor can an officer who is not an admin.
    [own] = await admin.say("/duyet 1")
    assert own.text == "Cần một quản trị viên khác duyệt, người soạn không tự duyệt được."
    [own] = await admin.press_payload("bc:approve:1")
    assert own.text == "Cần một quản trị viên khác duyệt, người soạn không tự duyệt được."
    binh = talk("7001", "telegram")
    [not_admin] = await binh.say("/duyet 1")
    assert not_admin.text == "Chỉ quản trị viên mới duyệt được thông báo gửi toàn Liên đoàn."
    [not_admin] = await binh.press_payload("bc:approve:1")
    assert not_admin.text == "Chỉ quản trị viên mới duyệt được thông báo gửi toàn Liên đoàn."
    for odd in ("mot", "²", "9" * 30):
        [usage] = await binh.say(f"/duyet {odd}")
        assert usage.text == "Bạn gửi /duyet kèm số của thông báo, ví dụ /duyet 12."
    assert (await saved(sessions))[0].status == "awaiting_approval"
    # The second admin, who never wrote to the bot before, approves with one tap.
    second = talk("7005", "telegram")
    second.last = [asked]
    [approved, told] = await second.press("Duyệt")
    assert approved.text == (
        "Đã duyệt thông báo #1, tin đang được gửi. Theo dõi tiến độ trên trang quản lý: "
        "/officer/broadcasts/1"
    )
    assert told.to.chat_id == "7004"
    assert told.text == "Quản Trị Hai đã duyệt thông báo #1 của bạn. Tiến độ: /officer/broadcasts/1"
    [broadcast] = await saved(sessions)
    assert (broadcast.status, broadcast.approved_by) == ("scheduled", ids["second"])
    [twice] = await second.say("/duyet 1")
    assert twice.text == "Thông báo này không ở trạng thái chờ duyệt."
    approvals = AuditEntry.action == "broadcast.approved"
    assert await count(sessions, AuditEntry, approvals) == 1


async def test_forged_and_stale_buttons_change_nothing(setup, talk, sessions):
    binh = talk("7001", "telegram")
    [shown] = await binh.say(f"/thongbao {TEXT}")
    send = buttons(shown)[3]
    number = int(send.rsplit(":", 1)[1])
    wrong = (number + 1) % 10**9
    forged = [
        f"bc:send:{wrong}", f"bc:topic:{wrong}:support", f"bc:drop:{wrong}",
        f"bc:topic:{number}", f"bc:send:{number}:policy", f"bc:topic:{number}:nope",
        "bc:send:x", "bc:send", f"bc:publish:{number}", f"bc:send:{number}:1:2",
    ]  # fmt: skip
    for payload in forged:
        [stale] = await binh.press_payload(payload)
        assert stale.text == STALE, payload
    # Another officer cannot press this officer's draft: they hold no such draft.
    other = talk("7003", "telegram")
    for payload in (send, f"bc:drop:{number}", f"bc:topic:{number}:support"):
        [stale] = await other.press_payload(payload)
        assert stale.text == STALE, payload
    # An approval of a broadcast that does not exist, or of an ordinary one, is refused.
    [missing] = await talk("7004", "telegram").press_payload("bc:approve:99")
    assert missing.text == "Thông báo này không ở trạng thái chờ duyệt."
    assert await saved(sessions) == []
    # The draft itself is untouched: its own Send still works.
    [sent] = await binh.press_payload(send)
    assert sent.text.startswith("Thông báo #1 đang được gửi.")
    [ordinary] = await talk("7005", "telegram").press_payload("bc:approve:1")
    assert ordinary.text == "Thông báo này không ở trạng thái chờ duyệt."
    [broadcast] = await saved(sessions)
    assert (broadcast.status, broadcast.approved_by) == ("scheduled", None)


async def test_quiet_hours_are_said_before_and_after_sending(setup, talk, clock):
    clock.now = NOW + timedelta(hours=13)  # 22:30 in Đà Lạt
    binh = talk("7001", "telegram")
    [shown] = await binh.say(f"/thongbao {TEXT}")
    assert (
        "Bây giờ là khung giờ không gửi tin, nên tin sẽ không đi trước 06:00 thứ Năm, 26/11/2026."
    ) in shown.text
    [sent] = await binh.press("Gửi")
    assert sent.text == (
        "Đã lưu thông báo #1, tin sẽ gửi lúc 06:00 thứ Năm, 26/11/2026, khi hết khung giờ "
        "không gửi tin. Theo dõi tiến độ trên trang quản lý: /officer/broadcasts/1"
    )
