"""The daily digest: once a day at the chosen hour, each linked, active officer hears what is
new, overdue and waiting for them in their own queue; nobody hears it twice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot import outbox
from bot.digest import Digest
from bot.dispatch import Dispatcher
from bot.outbox import Sender
from bot.services import Services
from storage import cases, db, officers, unions
from storage.models import AuditEntry, CaseMessage, Officer, OutboxItem
from tests.scenarios import add_officer
from tests.support import TEST_VAULT, count

AT_SEVEN = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 07:00 on Wednesday 25/11 in Đà Lạt
FILED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 24, 10, tzinfo=UTC)  # 17:00 in Đà Lạt
FRIDAY = datetime(2026, 11, 27, 10, tzinfo=UTC)
LAN = "7101"  # an officer of the Cam Ly ward union (its tree: the dairy's union)
MAI = "7102"  # an officer of the Lâm Viên ward union: nothing in her tree
BINH = "7103"  # deactivated, of Cam Ly
DIGEST = (
    "Hồ sơ của bạn hôm nay, 25/11/2026:\n"
    "Mới trong hàng đợi: 1\n"
    "Quá hạn: 1\n"
    "Chờ bạn trả lời: 1\n"
    "\n"
    "Cần xử lý trước:\n"
    "⚠️ HT-2026-000001 · Hỗ trợ khó khăn · Ốm đau, bệnh tật · hạn 17:00 thứ Ba, 24/11/2026\n"
    "KN-2026-000001 · Phản ánh · Nợ lương, chậm lương · hạn 17:00 thứ Sáu, 27/11/2026\n"
    "\n"
    "Gõ /queue để xem toàn bộ hàng đợi."
)


def digest_job(dispatcher: Dispatcher, database: db.Database, hour: int | None = 7) -> Digest:
    services: Services = dispatcher.services
    services = replace(services, settings=services.settings.with_(digest_hour=hour))
    return Digest(services, Sender(database, services, {}))


async def union_id(session, code: str) -> int:
    union = await unions.by_code(session, code)
    assert union is not None
    return union.id


async def queues(sessions) -> dict[str, int]:
    """Officers of three unions, and requests in two trees; the officers' ids by name."""
    ids = {
        "lan": await add_officer(sessions, "CL-CAMLY", "Lan", LAN),
        "mai": await add_officer(sessions, "CL-LAMVIEN", "Mai", MAI),
        "binh": await add_officer(sessions, "CL-CAMLY", "Bình", BINH),
        "unlinked": await add_officer(sessions, "CL-CAMLY", "Hà", None),
    }
    async with sessions() as session:
        (await session.get(Officer, ids["binh"])).active = False
        dairy = await union_id(session, "GR-SUACAONGUYEN")
        camly = await union_id(session, "CL-CAMLY")
        hotel = await union_id(session, "GR-THONGXANH")
        await officers.register_group(session, camly, "telegram", "-100500", FILED)
        # New at the dairy's union, due Friday: new for Lan.
        await cases.open(
            session, kind="grievance", union_id=dairy, person_id=None, text="Nợ lương",
            now=FILED, anonymous=True, category="wages", due_at=FRIDAY,
        )  # fmt: skip
        # Lan's, overdue since Tuesday, and the worker answered her reply: waiting for her.
        ill = await cases.open(
            session, kind="support", union_id=camly, person_id=None, text="Em bị ốm",
            now=FILED, category="illness", due_at=TUESDAY,
        )  # fmt: skip
        # Lan's, answered by her last: waiting for the worker, not for her.
        join = await cases.open(
            session, kind="membership", union_id=camly, person_id=None, text="Cho em vào",
            now=FILED, category="contract",
        )  # fmt: skip
        for case in (ill, join):
            case.assignee_id, case.status = ids["lan"], "assigned"
        await session.flush()
        for case_id, author in ((ill.id, "officer"), (ill.id, "worker"), (join.id, "officer")):
            session.add(CaseMessage(case_id=case_id, author=author, text="…", created_at=FILED))
            await session.flush()
        # Another tree's, new and overdue; and a finished one past its due time.
        await cases.open(
            session, kind="grievance", union_id=hotel, person_id=None, text="Tăng ca",
            now=FILED, category="overtime", due_at=FILED,
        )  # fmt: skip
        done = await cases.open(
            session, kind="question", union_id=camly, person_id=None, text="Hỏi", now=FILED,
            due_at=FILED,
        )  # fmt: skip
        done.status = "resolved"
        await session.commit()
    return ids


async def digests(sessions) -> list[OutboxItem]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def test_each_officer_hears_their_own_queue_once_a_day_from_the_hour(
    dispatcher, database, sessions, clock
):
    ids = await queues(sessions)
    job = digest_job(dispatcher, database)
    clock.now = AT_SEVEN - timedelta(minutes=1)
    assert await job.run_once() == 0  # before the hour: nothing
    clock.now = AT_SEVEN
    assert await job.run_once() == 1
    [sent] = await digests(sessions)
    assert (sent.channel, sent.chat_id) == ("telegram", LAN)  # not Mai, Bình, Hà or the group
    text, buttons = outbox.body(TEST_VAULT, sent)
    assert text == DIGEST
    assert [label for [[label, _payload]] in buttons] == ["HT-2026-000001", "KN-2026-000001"]
    assert all(payload.startswith("o:view:") for [[_label, payload]] in buttons)
    async with sessions() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action.like("digest.%")))
        ).all()
    assert sorted((e.officer_id, e.action, e.detail["date"]) for e in entries) == [
        (ids["lan"], "digest.sent", "2026-11-25"),
        (ids["mai"], "digest.empty", "2026-11-25"),  # nothing to say: the day is settled too
    ]
    clock.now = AT_SEVEN + timedelta(hours=5)
    assert await job.run_once() == 0  # later that day
    assert await digest_job(dispatcher, database).run_once() == 0  # nor after a restart
    clock.now = AT_SEVEN + timedelta(days=1, minutes=5)
    assert await job.run_once() == 1  # the next day: again
    assert [m.chat_id for m in await digests(sessions)] == [LAN, LAN]


async def test_a_process_started_after_the_hour_sends_the_days_digest_once(
    dispatcher, database, sessions, clock, db_url
):
    await queues(sessions)
    clock.now = AT_SEVEN + timedelta(hours=2)  # down at 07:00, up at 09:00
    other = db.Database.open(db_url)  # a second process on the same database
    try:
        services = digest_job(dispatcher, database).services
        first, second = (
            Digest(services, Sender(database, services, {})),
            Digest(services, Sender(other, services, {})),
        )
        assert sorted(await asyncio.gather(first.run_once(), second.run_once())) == [0, 1]
    finally:
        await other.close()
    assert [m.chat_id for m in await digests(sessions)] == [LAN]
    assert await count(sessions, AuditEntry, AuditEntry.action == "digest.sent") == 1


async def test_no_digest_when_turned_off_or_for_a_deactivated_officer(
    dispatcher, database, sessions, clock
):
    ids = await queues(sessions)
    clock.now = AT_SEVEN
    assert await digest_job(dispatcher, database, hour=None).run_once() == 0
    async with sessions() as session:
        (await session.get(Officer, ids["lan"])).active = False
        await session.commit()
    assert await digest_job(dispatcher, database).run_once() == 0
    assert await digests(sessions) == []


async def test_the_hour_is_the_local_one(dispatcher, database, sessions, clock):
    await queues(sessions)
    job = digest_job(dispatcher, database, hour=20)
    clock.now = datetime(2026, 11, 25, 12, 59, tzinfo=UTC)  # 19:59 in Đà Lạt
    assert await job.run_once() == 0
    clock.now = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert await job.run_once() == 1
    clock.now = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 00:30 the next day: before 20:00
    assert await job.run_once() == 0
