"""A deactivated (or unlinked) officer loses Telegram at once: their commands, buttons (in
private or in a group) and a reply they were writing stop working, alerts stop reaching them
(queued ones too), and what they were handling still reaches their union."""

from __future__ import annotations

from sqlalchemy import select

from bot.outbox import seal_body
from bot.services import accounts
from storage import outbox
from storage.models import Case, CaseMessage, Officer, OutboxItem
from tests.handlers.conftest import NOW
from tests.scenarios import COMPANY_UNION, add_officer, file_report, to_anonymity
from tests.support import TEST_VAULT, count

SUA = "GR-SUACAONGUYEN"
WORKER_ID = "506"
UNKNOWN = "Mình không hiểu lệnh /queue."
STALE = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."


async def deactivate(sessions, officer_id: int, by: int) -> accounts.Deactivated:
    async with sessions() as session:
        officer = await session.get(Officer, officer_id)
        done = await accounts.deactivate(session, officer, NOW, by=by)
        await session.commit()
    return done


async def test_a_deactivated_officer_loses_telegram_at_once(talk, sessions):
    binh_id = await add_officer(sessions, SUA, "Trần Thị Bình", "7001")
    await add_officer(sessions, SUA, "Nguyễn Văn Lâm", "7005")
    admin = await add_officer(sessions, "FED-ROOT", "Quản trị", "7004", role="admin")
    async with sessions() as session:
        await accounts.register_group(session, SUA, "-100555", NOW)
        await session.commit()
    worker = talk(WORKER_ID, "telegram")
    await to_anonymity(worker)
    await file_report(worker, recipient=COMPANY_UNION)  # the company union: binh's
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    binh = talk("7001", "telegram")
    await binh.press_payload(f"o:claim:{case.id}")
    await binh.press("Trả lời")
    await binh.say("Chào bạn, công đoàn đang làm việc với công ty.")
    await binh.press("Ghi chú")  # writing a note when the account is deactivated
    async with sessions() as session:  # an alert still waiting to be sent to Bình
        await outbox.add(session, [outbox.message(
            channel="telegram", chat_id="7001", person_id=None, now=NOW,
            sealed=seal_body(TEST_VAULT, "Hồ sơ mới", []),
        )])  # fmt: skip
        await session.commit()

    done = await deactivate(sessions, binh_id, admin)
    assert (done.open_cases, done.groups) == (1, ("-100555",))

    [unknown] = await binh.say("Đã gọi phòng nhân sự.")  # the note is not taken
    assert unknown.text == "Bạn cần gì? Chọn một mục bên dưới nhé."
    assert await count(sessions, CaseMessage, CaseMessage.author == "note") == 0
    assert (await binh.say("/queue"))[0].text.startswith(UNKNOWN)
    assert (await binh.say("/case KN-2026-000001"))[0].text.startswith("Mình không hiểu lệnh")
    for action in ("view", "claim", "close"):
        [stale] = await binh.press_payload(f"o:{action}:{case.id}")
        assert stale.text == STALE
        [stale] = await binh.press_payload(f"o:{action}:{case.id}", chat="-100555")
        assert stale.text == STALE and "KN-" not in stale.text
    async with sessions() as session:
        waiting = await outbox.due(session, ["telegram"], NOW)
    assert [item.chat_id for item in waiting if item.person_id is None] == []
    assert await count(sessions, OutboxItem, OutboxItem.failed.is_(True)) == 1

    # The worker answers the case Bình was handling: the union hears of it, Bình does not.
    await worker.press_payload("case:reply:KN-2026-000001")
    [_thanks, *alerts] = await worker.say("Dạ em cảm ơn ạ")
    assert sorted(a.to.chat_id for a in alerts) == ["-100555", "7005"]


async def test_an_unlinked_officer_is_no_longer_an_officer_on_telegram(talk, sessions):
    binh_id = await add_officer(sessions, SUA, "Trần Thị Bình", "7001")
    binh = talk("7001", "telegram")
    assert (await binh.say("/queue"))[0].text.startswith("Hàng đợi trống")
    async with sessions() as session:
        officer = await session.get(Officer, binh_id)
        await accounts.unlink(session, officer, NOW, by=None)
        await session.commit()
    assert (await binh.say("/queue"))[0].text.startswith(UNKNOWN)
    async with sessions() as session:
        officer = await session.get(Officer, binh_id)
    assert officer.active and officer.telegram_user_id is None
