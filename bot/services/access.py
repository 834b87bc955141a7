"""Who may see and act on which case. Every entry point (Telegram, dashboard, exports,
notifications) asks here, and nowhere else decides.

- An officer works the cases of their own union and of the unions below it.
- An admin (the federation) works every case.
- After escalation a case belongs to the parent union. The union it came from sees nothing
  of a grievance or a hardship request any more: a company's grassroots union is often led by
  one of its managers, and the worker's report, files and phone must not stay within its
  reach once the case has left it. Only a membership request stays readable there (not
  actionable): it says nothing against the employer, and that union is where the worker
  would belong.

A case outside someone's reach is reported exactly like a case that does not exist, so
guessing codes or ids tells nothing. Each refusal is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import Case, Officer, Union

# The kinds of case the union a case was passed up from may still read.
ORIGIN_READS = ("membership",)


@dataclass(frozen=True, slots=True)
class Scope:
    """An officer and the unions they work for (None: all of them)."""

    officer_id: int
    union_id: int
    unions: frozenset[int] | None

    def can_view(self, case: Case) -> bool:
        return (
            self.unions is None
            or case.union_id in self.unions
            or (case.origin_union_id in self.unions and case.kind in ORIGIN_READS)
        )

    def can_act(self, case: Case) -> bool:
        return self.unions is None or case.union_id in self.unions

    def visible(self) -> ColumnElement[bool]:
        """The cases this officer may read, as a query condition."""
        if self.unions is None:
            return true()
        ids = sorted(self.unions)
        passed_up = and_(Case.origin_union_id.in_(ids), Case.kind.in_(ORIGIN_READS))
        return or_(Case.union_id.in_(ids), passed_up)

    def actionable(self) -> ColumnElement[bool]:
        """The cases this officer may act on (their queue), as a query condition."""
        return true() if self.unions is None else Case.union_id.in_(sorted(self.unions))


async def scope(session: AsyncSession, officer: Officer) -> Scope:
    """The officer's union and every union below it (admins: everything)."""
    if officer.role == "admin":
        return Scope(officer.id, officer.union_id, None)
    return Scope(officer.id, officer.union_id, await below(session, officer.union_id))


async def below(session: AsyncSession, union_id: int) -> frozenset[int]:
    """A union and all its descendants."""
    rows = (await session.execute(select(Union.id, Union.parent_id))).all()
    children: dict[int, list[int]] = {}
    for child, parent in rows:
        if parent is not None:
            children.setdefault(parent, []).append(child)
    found, unvisited = {union_id}, [union_id]
    while unvisited:
        for child in children.get(unvisited.pop(), ()):
            if child not in found:
                found.add(child)
                unvisited.append(child)
    return frozenset(found)


async def case_for(
    session: AsyncSession,
    who: Scope,
    now: datetime,
    *,
    code: str | None = None,
    case_id: int | None = None,
    act: bool = False,
) -> Case | None:
    """The case by code or id if this officer may read it (or act on it, with act=True);
    None when it does not exist or is out of reach, which look the same from outside."""
    if code is not None:
        case = await session.scalar(select(Case).where(Case.code == code.strip().upper()))
    elif case_id is not None:
        case = await session.get(Case, case_id)
    else:
        case = None
    if case is None:
        return None
    allowed = who.can_act(case) if act else who.can_view(case)
    if not allowed:
        audit.record(
            session,
            actor="officer",
            officer_id=who.officer_id,
            action="case.denied",
            case_id=case.id,
            now=now,
            detail={"act": act},
        )
        return None
    return case
