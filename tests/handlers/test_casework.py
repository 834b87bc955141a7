"""After filing: officers' answers and status changes reach the worker, anonymous ones only
through the sealed reporter; the worker answers back through the case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import casework
from storage.models import AuditEntry, Case, CaseMessage
from tests.handlers.conftest import NOW, buttons
from tests.scenarios import add_officer, file_report, to_anonymity
from tests.support import count

REFUSAL = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."


async def filed_anonymously(talk):
    worker = talk("900")
    await to_anonymity(worker)
    await file_report(worker)
    return worker


async def test_an_officer_reply_reaches_the_anonymous_reporter_and_they_answer(
    talk, sessions, dispatcher
):
    worker = await filed_anonymously(talk)
    services = dispatcher.services
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        [told] = await casework.reply(session, services, case, "Chúng tôi đã liên hệ công ty.", NOW)
        await session.commit()
    # Addressed to the reporter's own chat, found only through the sealed reporter.
    assert (told.to.channel, told.to.chat_id) == ("terminal", "900")
    assert told.text == (
        "Công đoàn trả lời hồ sơ KN-2026-000001 của bạn:\nChúng tôi đã liên hệ công ty."
    )
    assert buttons(told) == ["case:reply:KN-2026-000001", "menu:home"]
    [prompt] = await worker.press_payload("case:reply:KN-2026-000001")  # under `told`
    assert prompt.text.startswith("Bạn viết câu trả lời về hồ sơ KN-2026-000001")
    [added] = await worker.say("Cảm ơn, lương đã được trả một nửa.")
    assert added.text.startswith("Câu trả lời của bạn đã được thêm vào hồ sơ KN-2026-000001.")
    async with sessions() as session:
        thread = (
            await session.execute(
                select(CaseMessage.author, CaseMessage.text).order_by(CaseMessage.id)
            )
        ).all()
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert [author for author, _ in thread] == ["worker", "officer", "worker"]
    assert actions == ["case.opened", "case.replied", "case.answered"]


async def test_status_changes_are_told_and_nobody_else_can_answer_a_case(
    talk, sessions, dispatcher
):
    await filed_anonymously(talk)
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        [told] = await casework.set_status(session, dispatcher.services, case, "resolved", NOW)
        await session.commit()
    assert told.text == "Hồ sơ KN-2026-000001 của bạn đã chuyển sang: đã giải quyết."
    stranger = talk("901")
    await stranger.say("/start")
    assert [r.text for r in await stranger.press_payload("case:reply:KN-2026-000001")] == [REFUSAL]


async def test_after_xoadulieu_nobody_can_be_told(talk, sessions, dispatcher):
    worker = await filed_anonymously(talk)
    await worker.say("/xoadulieu")
    await worker.press("Xoá dữ liệu của tôi")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        assert await casework.reply(session, dispatcher.services, case, "Xin chào", NOW) == []
        await session.commit()


async def test_an_officer_who_resolves_or_admits_takes_an_unassigned_case(
    talk, sessions, dispatcher
):
    """The rule both front ends follow (Telegram's taps, the dashboard's forms): an officer
    who changes the status of a case nobody holds takes it; the system (the SLA watch) does
    not; an admission is confirmed once, and only on a membership request."""
    await filed_anonymously(talk)
    binh = await add_officer(sessions, "GR-SUACAONGUYEN", "Trần Thị Bình", "7001")
    services = dispatcher.services
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        await casework.set_status(session, services, case, "waiting_worker", NOW)
        assert case.assignee_id is None  # nobody acted: nobody takes it
        await casework.set_status(session, services, case, "resolved", NOW, binh)
        assert case.assignee_id == binh
        with pytest.raises(casework.NotAllowed):
            await casework.admit(session, services, case, NOW, binh)
        case.kind, case.assignee_id, case.status = "membership", None, "new"
        await casework.admit(session, services, case, NOW, binh)
        assert (case.status, case.assignee_id) == ("resolved", binh)
        with pytest.raises(casework.AlreadyAdmitted):
            await casework.admit(session, services, case, NOW, binh)
        await session.commit()
    assert await count(sessions, AuditEntry, AuditEntry.action == "member.admitted") == 1
