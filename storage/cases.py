"""Cases: requests in a union's queue, with readable public codes and a message thread."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, evidence
from storage.dialect import insert
from storage.localtime import LOCAL_TIME, start_of_day, start_of_hour
from storage.models import AuditEntry, Case, CaseCounter, CaseMessage, Evidence

# Code prefixes read out on the phone: KN-2026-000123 is the 123rd grievance of 2026.
PREFIXES = {"grievance": "KN", "membership": "GN", "support": "HT", "question": "HD"}
OPEN_STATUSES = ("new", "assigned", "waiting_worker")
INTAKE_COLUMNS = frozenset(
    {
        "details", "first_response_due_at", "resolution_due_at", "route_rule", "workplace_id",
        "ward_id", "contact_sealed", "reporter_sealed", "reporter_tag", "pin_tag",
        "outreach_link_id",
    }
)  # fmt: skip
# The text of the system entry a case's thread gets when its sender erases their data: a
# marker, not a sentence, so each reader sees it in their own language (handlers/alerts.py).
DETACHED = "[sender data erased]"


async def next_code(session: AsyncSession, kind: str, year: int) -> str:
    """The next public code for this kind and year; atomic on both backends."""
    prefix = PREFIXES[kind]
    stmt = insert(session, CaseCounter).values(prefix=prefix, year=year, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix", "year"], set_={"last": CaseCounter.last + 1}
    ).returning(CaseCounter.last)
    number = (await session.execute(stmt)).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


async def open(
    session: AsyncSession,
    *,
    kind: str,
    union_id: int,
    person_id: int | None,
    text: str,
    now: datetime,
    anonymous: bool = False,
    category: str | None = None,
    due_at: datetime | None = None,
    **intake: Any,
) -> Case:
    """Open a case in a union's queue with the worker's first message. `intake` sets the
    other Case columns a form fills (details, due times per stage, routing, sealed data)."""
    unknown = set(intake) - INTAKE_COLUMNS
    if unknown:
        raise TypeError(f"not case intake columns: {sorted(unknown)}")
    # A case nobody is named on keeps its time only to the hour: an exact time could be
    # matched to the moment its sender was last active (any row written in that transaction).
    stamp = now if person_id is not None else start_of_hour(now)
    case = Case(
        # The year in Vietnam: a case at 01:00 on 1 January local time is new-year's.
        code=await next_code(session, kind, now.astimezone(LOCAL_TIME).year),
        kind=kind,
        category=category,
        status="new",
        union_id=union_id,
        person_id=person_id,
        anonymous=anonymous,
        escalated=False,
        due_at=due_at,
        created_at=stamp,
        updated_at=stamp,
        **intake,
    )
    session.add(case)
    await session.flush()
    session.add(CaseMessage(case_id=case.id, author="worker", text=text, created_at=stamp))
    audit.record(
        session,
        actor="worker",
        action="case.opened",
        case_id=case.id,
        now=stamp,
        detail={"kind": kind},
    )
    return case


async def for_person(
    session: AsyncSession, person_id: int, anonymous: Collection[int] = (), limit: int = 10
) -> Sequence[Case]:
    """The person's cases, newest first: theirs by id, and `anonymous` (the ids in their
    sealed list, bot/services/reporters.py)."""
    return (
        await session.scalars(
            select(Case)
            .where(_filed_by(person_id, anonymous))
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(limit)
        )
    ).all()


def _filed_by(person_id: int, anonymous: Collection[int]) -> ColumnElement[bool]:
    """The person's cases: theirs by id, and their anonymous ones by id, as long as a sealed
    reporter still links them (not once detached or scrubbed by retention)."""
    mine = Case.person_id == person_id
    if not anonymous:
        return mine
    return or_(mine, and_(Case.id.in_(sorted(anonymous)), Case.reporter_sealed.is_not(None)))


async def count_for_person(
    session: AsyncSession, person_id: int, anonymous: Collection[int] = ()
) -> int:
    query = select(func.count()).select_from(Case).where(_filed_by(person_id, anonymous))
    return int(await session.scalar(query) or 0)


async def owned_by(
    session: AsyncSession, code: str, person_id: int, anonymous: Collection[int] = ()
) -> Case | None:
    """The case with this code if the person filed it, else None."""
    query = select(Case).where(Case.code == code, _filed_by(person_id, anonymous))
    return await session.scalar(query)


async def detach(
    session: AsyncSession, person_id: int, anonymous: Collection[int], now: datetime
) -> int:
    """Cut every link between a person and the cases they filed (theirs by id, or anonymous
    by the ids in their sealed list): the cases stay with the union, with no way back to the
    reporter. Each case's thread records the day (a DETACHED system entry), so officers know
    why nobody answers. Only the day: one exact time on several anonymous cases would show
    they share a sender."""
    ids = (await session.scalars(select(Case.id).where(_filed_by(person_id, anonymous)))).all()
    if not ids:
        return 0
    now = start_of_day(now)
    await session.execute(
        update(Case)
        .where(Case.id.in_(ids))
        .values(
            person_id=None,
            reporter_sealed=None,
            reporter_tag=None,
            contact_sealed=None,
            pin_tag=None,
        )
    )
    for case_id in ids:
        session.add(CaseMessage(case_id=case_id, author="system", text=DETACHED, created_at=now))
        audit.record(session, actor="worker", action="case.detached", case_id=case_id, now=now)
    return len(ids)


async def detached_at(session: AsyncSession, case_id: int) -> datetime | None:
    """When the case's sender erased their data (/xoadulieu), or None."""
    return await session.scalar(
        select(CaseMessage.created_at)
        .where(
            CaseMessage.case_id == case_id,
            CaseMessage.author == "system",
            CaseMessage.text == DETACHED,
        )
        .order_by(CaseMessage.id)
        .limit(1)
    )


# Saved views of the officers' queue (bot/web/views.py), each a condition on open cases
# (All: any status).
QUEUE_VIEWS = ("new", "mine", "overdue", "waiting", "all")
URGENT = "now"  # the support form's "very urgent (this week)" (bot/services/labels.py)


def _urgent() -> ColumnElement[bool]:
    urgency: ColumnElement[str] = Case.details["urgency"].as_string()
    return urgency == URGENT


def view_condition(view: str, officer_id: int, now: datetime) -> ColumnElement[bool]:
    """Which cases a saved view holds, besides the officer's access."""
    open_ = Case.status.in_(OPEN_STATUSES)
    return {
        "new": and_(open_, Case.status == "new"),
        "mine": and_(open_, Case.assignee_id == officer_id),
        "overdue": and_(open_, Case.due_at < now),
        "waiting": Case.status == "waiting_worker",
        "all": true(),
    }[view]


async def view_counts(
    session: AsyncSession,
    actionable: ColumnElement[bool],
    visible: ColumnElement[bool],
    officer_id: int,
    now: datetime,
) -> dict[str, int]:
    """How many cases each saved view holds for this officer, in one query: their queue
    (`actionable`) for all but All, which is everything they may read (`visible`)."""
    columns = [
        func.coalesce(func.sum(case((and_(condition, scope), 1), else_=0)), 0)
        for condition, scope in (
            (view_condition(view, officer_id, now), visible if view == "all" else actionable)
            for view in QUEUE_VIEWS
        )
    ]
    row = (await session.execute(select(*columns).select_from(Case).where(visible))).one()
    return {view: int(n) for view, n in zip(QUEUE_VIEWS, row, strict=True)}


async def listing(
    session: AsyncSession,
    where: ColumnElement[bool],
    *,
    now: datetime | None = None,
    open_only: bool = False,
    status: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    workplace_id: int | None = None,
    ward_id: int | None = None,
    assignee_id: int | None = None,
    due_before: datetime | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Case]:
    """Cases matching `where` (an access condition) and the filters, what needs action first:
    overdue (at `now`), then very urgent, then the soonest due, open before finished."""
    query = select(Case).where(where)
    if open_only:
        query = query.where(Case.status.in_(OPEN_STATUSES))
    for column, value in (
        (Case.status, status), (Case.kind, kind), (Case.category, category),
        (Case.workplace_id, workplace_id), (Case.ward_id, ward_id),
        (Case.assignee_id, assignee_id),
    ):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if due_before is not None:
        query = query.where(Case.due_at < due_before)
    if text:
        # The code, or anything written in the thread (worker, officers, notes).
        pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
        in_thread = select(CaseMessage.case_id).where(CaseMessage.text.ilike(pattern))
        query = query.where(or_(Case.code.ilike(pattern), Case.id.in_(in_thread)))
    return (await session.scalars(_most_pressing(query, now).limit(limit).offset(offset))).all()


def _most_pressing(query: Select[Case], now: datetime | None) -> Select[Case]:
    finished = case((Case.status.in_(OPEN_STATUSES), 0), else_=1)
    if now is None:
        return query.order_by(finished, Case.due_at.is_(None), Case.due_at, Case.id)
    late = case((and_(Case.due_at < now, Case.status.in_(OPEN_STATUSES)), 0), else_=1)
    urgent = case((_urgent(), 0), else_=1)
    return query.order_by(finished, late, urgent, Case.due_at.is_(None), Case.due_at, Case.id)


async def previews(session: AsyncSession, case_ids: Collection[int]) -> dict[int, str]:
    """What the worker first wrote on each case (for the queue's rows), in one query."""
    if not case_ids:
        return {}
    first = (
        select(func.min(CaseMessage.id))
        .where(CaseMessage.case_id.in_(list(case_ids)), CaseMessage.author == "worker")
        .group_by(CaseMessage.case_id)
    )
    rows = await session.execute(
        select(CaseMessage.case_id, CaseMessage.text).where(CaseMessage.id.in_(first))
    )
    return {case_id: text for case_id, text in rows}


async def unread(
    session: AsyncSession, case_ids: Collection[int], officer_id: int
) -> dict[int, int]:
    """How many of the worker's messages on each case came after the officer last opened it
    (all of them on a case they never opened), in one query."""
    if not case_ids:
        return {}
    ids = list(case_ids)
    seen = (
        select(AuditEntry.case_id, func.max(AuditEntry.at).label("at"))
        .where(
            AuditEntry.case_id.in_(ids),
            AuditEntry.officer_id == officer_id,
            AuditEntry.action == "case.viewed",
        )
        .group_by(AuditEntry.case_id)
        .subquery()
    )
    rows = await session.execute(
        select(CaseMessage.case_id, func.count())
        .outerjoin(seen, seen.c.case_id == CaseMessage.case_id)
        .where(
            CaseMessage.case_id.in_(ids),
            CaseMessage.author == "worker",
            or_(seen.c.at.is_(None), CaseMessage.created_at > seen.c.at),
        )
        .group_by(CaseMessage.case_id)
    )
    return {case_id: int(n) for case_id, n in rows}


async def count(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """How many cases match `where` (an access condition and filters)."""
    return int(await session.scalar(select(func.count()).select_from(Case).where(where)) or 0)


def awaiting(officer_id: int) -> ColumnElement[bool]:
    """Cases waiting for this officer's answer: assigned to them, new or being handled (not
    set to wait for the worker), and the worker had the last word in the thread (their
    request, not answered yet, or their answer since the officers' last reply; notes and
    system entries do not count). Entries are compared by id, not time: an anonymous case's
    entries keep their time to the hour only."""

    def last(author: str) -> ColumnElement[int]:
        return (
            select(func.max(CaseMessage.id))
            .where(CaseMessage.case_id == Case.id, CaseMessage.author == author)
            .scalar_subquery()
        )

    return and_(
        Case.assignee_id == officer_id,
        Case.status.in_(("new", "assigned")),
        last("worker") > func.coalesce(last("officer"), 0),
    )


async def thread(session: AsyncSession, case_id: int, limit: int = 50) -> list[CaseMessage]:
    """The case's last `limit` messages, oldest first."""
    newest = (
        await session.scalars(
            select(CaseMessage)
            .where(CaseMessage.case_id == case_id)
            .order_by(CaseMessage.created_at.desc(), CaseMessage.id.desc())
            .limit(limit)
        )
    ).all()
    return list(reversed(newest))


async def first_text(session: AsyncSession, case_id: int) -> str:
    """What the worker first wrote."""
    text = await session.scalar(
        select(CaseMessage.text)
        .where(CaseMessage.case_id == case_id)
        .order_by(CaseMessage.id)
        .limit(1)
    )
    return text or ""


async def by_code(session: AsyncSession, code: str) -> Case | None:
    return await session.scalar(select(Case).where(Case.code == code.strip().upper()))


async def with_sealed(session: AsyncSession) -> Sequence[Case]:
    """Cases holding anything sealed (for re-sealing with a new key)."""
    return (
        await session.scalars(
            select(Case).where(
                or_(Case.contact_sealed.is_not(None), Case.reporter_sealed.is_not(None))
            )
        )
    ).all()


# What a case holds that leads to the person who filed it (bot/retention.py removes it once
# the case has been closed long enough), and the statuses of a finished case.
PERSONAL_COLUMNS = ("person_id", "contact_sealed", "reporter_sealed", "reporter_tag", "pin_tag")
FINISHED_STATUSES = ("resolved", "closed")
SCRUB_BATCH = 100


async def scrub_closed(
    session: AsyncSession, before: datetime, now: datetime, limit: int = SCRUB_BATCH
) -> int:
    """Remove the personal data of at most `limit` cases finished (resolved or closed) before
    `before`: who filed it (their id, or the sealed reporter, its tag and the PIN), the
    sealed contact details and the files. The case itself (code, kind, category, union,
    dates, the answers that identify nobody), its thread and its audit entries stay, for
    statistics and the union's record; an audit entry says when. How many cases."""
    finished = and_(Case.status.in_(FINISHED_STATUSES), Case.closed_at < before)
    holding = or_(
        *(getattr(Case, column).is_not(None) for column in PERSONAL_COLUMNS),
        exists().where(Evidence.case_id == Case.id),
    )
    found = await session.scalars(
        select(Case.id).where(finished, holding).order_by(Case.id).limit(limit)
    )
    ids = list(found)
    if not ids:
        return 0
    # The conditions again: a case reopened meanwhile keeps everything.
    scrubbed = list(
        await session.scalars(
            update(Case)
            .where(Case.id.in_(ids), finished)
            .values(dict.fromkeys(PERSONAL_COLUMNS))
            .returning(Case.id)
            .execution_options(synchronize_session=False)
        )
    )
    await evidence.forget_cases(session, scrubbed)
    for case_id in scrubbed:
        audit.record(session, actor="system", action="case.scrubbed", case_id=case_id, now=now)
    return len(scrubbed)
