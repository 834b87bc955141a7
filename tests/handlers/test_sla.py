"""Overdue cases climb to the parent union after the grace period; the worker is told."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import outbox
from bot.outbox import Sender
from bot.services import accounts
from bot.sla import SlaWatch
from storage import unions
from storage.models import AuditEntry, Case, OutboxItem
from tests.handlers.conftest import NOW
from tests.scenarios import COMPANY_UNION, file_report, to_anonymity
from tests.support import TEST_VAULT, count


async def test_an_overdue_case_is_escalated_once_after_the_grace_period(
    talk, sessions, database, dispatcher, clock
):
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="CL-CAMLY", name="Cụm", role="officer", now=NOW,
            telegram_user_id="7002",
        )  # fmt: skip
        await session.commit()
    worker = talk("506", "telegram")
    await to_anonymity(worker)
    await file_report(worker, recipient=COMPANY_UNION)  # at the dairy's own union
    await worker.press_payload("q:write:other")  # a question: it sits at the root federation
    await worker.say("Cho em hỏi về lương tối thiểu vùng ở Lâm Đồng")
    watch = SlaWatch(dispatcher.services, Sender(database, dispatcher.services, {}))
    async with sessions() as session:
        report = (await session.scalars(select(Case).where(Case.kind == "grievance"))).one()
    due = report.due_at
    clock.now = due + timedelta(hours=23)
    assert await watch.run_once() == 0
    clock.now = due + timedelta(hours=25)
    before = await count(sessions, OutboxItem)
    assert await watch.run_once() == 1  # the question at the root is not moved
    async with sessions() as session:
        moved = await session.get(Case, report.id)
        cluster = await unions.by_code(session, "CL-CAMLY")
        sent = (await session.scalars(select(OutboxItem).where(OutboxItem.id > before))).all()
    assert (moved.union_id, moved.escalated) == (cluster.id, True)
    assert moved.origin_union_id is not None and moved.due_at > clock.now
    assert sorted(m.chat_id for m in sent) == ["506", "7002"]
    told = next(m for m in sent if m.chat_id == "506")
    assert outbox.body(TEST_VAULT, told)[0].startswith(
        "Yêu cầu KN-2026-000001 của bạn vẫn đang được xử lý."
    )
    assert await watch.run_once() == 0  # a new due time at the new union
    assert await count(sessions, Case, Case.kind == "question", Case.escalated.is_(False)) == 1
    assert await count(sessions, AuditEntry, AuditEntry.action == "case.escalated") == 1
