"""Unions, wards and workplaces in the database: the directory import and lookups.

The import is idempotent: unions match by code, wards by name, workplaces by tax code (else
name), and are updated in place, so cases that point at them keep working. Entries that
disappear from the file are kept (cases may point at them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.directory import Directory, UnionEntry, WardEntry, WorkplaceEntry
from storage.models import Union, Ward, Workplace


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


class _Tally:
    def __init__(self) -> None:
        self.created = self.updated = self.unchanged = 0

    def apply(self, row: object, values: Mapping[str, object], is_new: bool) -> None:
        changed = False
        for key, value in values.items():
            if getattr(row, key, None) != value:
                setattr(row, key, value)
                changed = True
        if is_new:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def report(self) -> ImportReport:
        return ImportReport(self.created, self.updated, self.unchanged)


async def import_directory(session: AsyncSession, directory: Directory) -> ImportReport:
    """Create or update every union, ward and workplace of a validated directory.

    The caller commits; on any error it rolls back and nothing is imported.
    """
    tally = _Tally()
    unions = await _import_unions(session, directory, tally)
    wards = await _import_wards(session, directory, tally, unions)
    # Parents and wards of unions are set once every row has an id; these count as part of
    # the union rows already tallied, so they change the row without a second count.
    for entry in directory.unions:
        row = unions[entry.code]
        row.parent_id = unions[entry.parent].id if entry.parent else None
        row.ward_id = wards[entry.ward].id if entry.ward else None
    await _import_workplaces(session, directory, tally, unions, wards)
    return tally.report()


async def _import_unions(
    session: AsyncSession, directory: Directory, tally: _Tally
) -> dict[str, Union]:
    """Every union of the database by code, the directory's created or updated (flushed)."""
    unions = {u.code: u for u in (await session.scalars(select(Union))).all()}
    for entry in directory.unions:
        row = unions.get(entry.code)
        is_new = row is None
        if row is None:
            row = unions[entry.code] = Union(code=entry.code)
            session.add(row)
        tally.apply(row, {"name": entry.name, "level": entry.level}, is_new)
    await session.flush()
    return unions


async def _import_wards(
    session: AsyncSession, directory: Directory, tally: _Tally, unions: dict[str, Union]
) -> dict[str, Ward]:
    """Every ward of the database by name, the directory's created or updated (flushed)."""
    wards = {w.name: w for w in (await session.scalars(select(Ward))).all()}
    for ward_entry in directory.wards:
        ward = wards.get(ward_entry.name)
        is_new = ward is None
        if ward is None:
            ward = wards[ward_entry.name] = Ward(name=ward_entry.name)
            session.add(ward)
        values = {
            "aliases": list(ward_entry.aliases),
            "organizing_union_id": unions[ward_entry.organizing_union].id,
        }
        tally.apply(ward, values, is_new)
    await session.flush()
    return wards


async def _import_workplaces(
    session: AsyncSession,
    directory: Directory,
    tally: _Tally,
    unions: dict[str, Union],
    wards: dict[str, Ward],
) -> None:
    """Create or update the directory's workplaces, matched by tax code, else name (flushed)."""
    places = (await session.scalars(select(Workplace))).all()
    by_tax = {p.tax_code: p for p in places if p.tax_code}
    by_name = {p.name: p for p in places}
    for place_entry in directory.workplaces:
        place = (by_tax.get(place_entry.tax_code) if place_entry.tax_code else None) or by_name.get(
            place_entry.name
        )
        is_new = place is None
        if place is None:
            place = Workplace(name=place_entry.name)
            session.add(place)
        values = {
            "name": place_entry.name,
            "aliases": list(place_entry.aliases),
            "tax_code": place_entry.tax_code,
            "ward_id": wards[place_entry.ward].id,
            "union_id": unions[place_entry.union].id if place_entry.union else None,
            "workers": place_entry.workers,
        }
        tally.apply(place, values, is_new)
    await session.flush()


async def count(session: AsyncSession) -> int:
    """How many unions the directory holds (0 means it was never imported)."""
    return int(await session.scalar(select(func.count()).select_from(Union)) or 0)


async def root(session: AsyncSession) -> Union | None:
    """The root federation: the one union without a parent (looked up once per session)."""
    if "root_union" not in session.info:
        session.info["root_union"] = await session.scalar(
            select(Union).where(Union.parent_id.is_(None)).limit(1)
        )
    found: Union | None = session.info["root_union"]  # session.info holds Any; only set here
    return found


async def roots(session: AsyncSession) -> list[str]:
    """The codes of the unions without a parent: a sound directory has exactly one."""
    query = select(Union.code).where(Union.parent_id.is_(None)).order_by(Union.code)
    return list(await session.scalars(query))


async def by_code(session: AsyncSession, code: str) -> Union | None:
    return await session.scalar(select(Union).where(Union.code == code))


async def directory(session: AsyncSession) -> Directory | None:
    """The directory as the database holds it (for the router); None before any import."""
    unions = (await session.scalars(select(Union).order_by(Union.id))).all()
    if not unions:
        return None
    wards = (await session.scalars(select(Ward).order_by(Ward.id))).all()
    workplaces = (await session.scalars(select(Workplace).order_by(Workplace.id))).all()
    union_code = {u.id: u.code for u in unions}
    ward_name = {w.id: w.name for w in wards}
    return Directory(
        unions=tuple(
            UnionEntry(
                code=u.code,
                name=u.name,
                level=u.level,
                parent=union_code.get(u.parent_id) if u.parent_id else None,
                ward=ward_name.get(u.ward_id) if u.ward_id else None,
            )
            for u in unions
        ),
        wards=tuple(
            WardEntry(w.name, tuple(w.aliases), union_code[w.organizing_union_id]) for w in wards
        ),
        workplaces=tuple(
            WorkplaceEntry(
                name=p.name,
                aliases=tuple(p.aliases),
                tax_code=p.tax_code,
                ward=ward_name[p.ward_id],
                union=union_code.get(p.union_id) if p.union_id else None,
                workers=p.workers,
            )
            for p in workplaces
        ),
    )


async def workplace_named(session: AsyncSession, name: str) -> Workplace | None:
    return await session.scalar(select(Workplace).where(Workplace.name == name))


async def ward_named(session: AsyncSession, name: str) -> Ward | None:
    return await session.scalar(select(Ward).where(Ward.name == name))


async def places(
    session: AsyncSession, union_ids: frozenset[int] | None
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Workplaces and wards within these unions' reach (all when None), by name: a
    workplace of one of the unions or in a ward one of them organises."""
    ward_query = select(Ward.id, Ward.name).order_by(Ward.name)
    place_query = select(Workplace.id, Workplace.name).order_by(Workplace.name)
    if union_ids is not None:
        ids = sorted(union_ids)
        ward_query = ward_query.where(Ward.organizing_union_id.in_(ids))
        in_wards = select(Ward.id).where(Ward.organizing_union_id.in_(ids))
        place_query = place_query.where(
            or_(Workplace.union_id.in_(ids), Workplace.ward_id.in_(in_wards))
        )
    wards = [(i, n) for i, n in (await session.execute(ward_query)).all()]
    workplaces = [(i, n) for i, n in (await session.execute(place_query)).all()]
    return workplaces, wards


async def coverage(
    session: AsyncSession, union_ids: frozenset[int] | None, least: int
) -> tuple[int, int, int]:
    """Of the directory's workplaces within these unions' reach (as `places`; all when None)
    whose size is known: how many of those with `least` or more workers have a union of
    their own, how many such workplaces there are, and how many have a known size at all
    (none: the directory gives no sizes; some: perhaps none is that large)."""
    large = Workplace.workers >= least
    query = select(
        func.count(case((and_(large, Workplace.union_id.is_not(None)), 1))),
        func.count(case((large, 1))),
        func.count(),
    ).where(Workplace.workers.is_not(None))
    if union_ids is not None:
        ids = sorted(union_ids)
        in_wards = select(Ward.id).where(Ward.organizing_union_id.in_(ids))
        query = query.where(or_(Workplace.union_id.in_(ids), Workplace.ward_id.in_(in_wards)))
    with_union, many, sized = (await session.execute(query)).one()
    return int(with_union), int(many), int(sized)


def all_unions_query() -> Select[Union]:
    """Every union, the root first, then by level and name (for choosers)."""
    return select(Union).order_by(Union.parent_id.is_not(None), Union.level, Union.name)
