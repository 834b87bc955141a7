"""The union directory file: parse and validate the YAML format of DESIGN.md.

Pure functions, no database: `unionbot route --directory FILE` and `unionbot directory
import FILE` both start here. A bad file raises DirectoryError naming the bad entry, so an
import can refuse the whole file before touching anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LEVELS = ("federation", "cluster", "grassroots")
TAX_CODE = re.compile(r"^\d{10}(-\d{3})?$")


class DirectoryError(ValueError):
    """The directory file is not valid; the message names the entry and what is wrong."""


@dataclass(frozen=True, slots=True)
class UnionEntry:
    code: str
    name: str
    level: str
    parent: str | None
    ward: str | None


@dataclass(frozen=True, slots=True)
class WardEntry:
    name: str
    aliases: tuple[str, ...]
    organizing_union: str


@dataclass(frozen=True, slots=True)
class WorkplaceEntry:
    name: str
    aliases: tuple[str, ...]
    tax_code: str | None
    ward: str
    union: str | None
    workers: int | None


@dataclass(frozen=True, slots=True)
class Directory:
    unions: tuple[UnionEntry, ...]
    wards: tuple[WardEntry, ...]
    workplaces: tuple[WorkplaceEntry, ...]

    @property
    def root(self) -> UnionEntry:
        return next(u for u in self.unions if u.parent is None)


def load(path: Path | str) -> Directory:
    """Read and validate a directory file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"{path}: cannot read the file: {exc}") from exc
    return parse(text, source=str(path))


def parse(text: str, source: str = "directory") -> Directory:
    """Parse YAML text into a validated Directory."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DirectoryError(f"{source}: expected a mapping with unions, wards and workplaces")
    unions = tuple(
        _union(entry, f"unions[{i}]") for i, entry in enumerate(_list(data, "unions", source))
    )
    wards = tuple(
        _ward(entry, f"wards[{i}]") for i, entry in enumerate(_list(data, "wards", source))
    )
    workplaces = tuple(
        _workplace(entry, f"workplaces[{i}]")
        for i, entry in enumerate(_list(data, "workplaces", source))
    )
    directory = Directory(unions, wards, workplaces)
    _check_references(directory, source)
    return directory


def _list(data: dict[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        if key == "unions":
            raise DirectoryError(f"{source}: 'unions' is missing; the root federation is needed")
        return []
    if not isinstance(value, list):
        raise DirectoryError(f"{source}: '{key}' must be a list")
    return value


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DirectoryError(f"{where}: '{key}' is missing")
        return None
    if not isinstance(value, str):
        raise DirectoryError(f"{where}: '{key}' must be text, not {value!r}")
    return value.strip()


def _aliases(entry: dict[str, Any], where: str) -> tuple[str, ...]:
    value = entry.get("aliases") or []
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        raise DirectoryError(f"{where}: 'aliases' must be a list of names")
    return tuple(a.strip() for a in value)


def _mapping(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise DirectoryError(f"{where}: expected a mapping, got {entry!r}")
    return entry


def _union(raw: Any, where: str) -> UnionEntry:
    entry = _mapping(raw, where)
    code = _text(entry, "code", where)
    where = f"{where} ({code})"
    level = _text(entry, "level", where)
    if level not in LEVELS:
        raise DirectoryError(f"{where}: level must be one of {', '.join(LEVELS)}, not {level!r}")
    return UnionEntry(
        code=code,  # type: ignore[arg-type]
        name=_text(entry, "name", where),  # type: ignore[arg-type]
        level=level,
        parent=_text(entry, "parent", where, required=False),
        ward=_text(entry, "ward", where, required=False),
    )


def _ward(raw: Any, where: str) -> WardEntry:
    entry = _mapping(raw, where)
    name = _text(entry, "name", where)
    where = f"{where} ({name})"
    return WardEntry(
        name=name,  # type: ignore[arg-type]
        aliases=_aliases(entry, where),
        organizing_union=_text(entry, "organizing_union", where),  # type: ignore[arg-type]
    )


def _workplace(raw: Any, where: str) -> WorkplaceEntry:
    entry = _mapping(raw, where)
    name = _text(entry, "name", where)
    where = f"{where} ({name})"
    tax_code = entry.get("tax_code")
    if isinstance(tax_code, int) and not isinstance(tax_code, bool):
        tax_code = str(tax_code)
    if tax_code is not None and (not isinstance(tax_code, str) or not TAX_CODE.match(tax_code)):
        raise DirectoryError(f"{where}: tax_code must be 10 digits (or 10-3), not {tax_code!r}")
    workers = entry.get("workers")
    if workers is not None and (
        not isinstance(workers, int) or isinstance(workers, bool) or workers < 0
    ):
        raise DirectoryError(f"{where}: workers must be a whole number, not {workers!r}")
    return WorkplaceEntry(
        name=name,  # type: ignore[arg-type]
        aliases=_aliases(entry, where),
        tax_code=tax_code,
        ward=_text(entry, "ward", where),  # type: ignore[arg-type]
        union=_text(entry, "union", where, required=False),
        workers=workers,
    )


def _unique(names: list[str], what: str, source: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DirectoryError(f"{source}: {what} {name!r} appears twice")
        seen.add(name)


def _check_references(d: Directory, source: str) -> None:
    codes = {u.code for u in d.unions}
    wards = {w.name for w in d.wards}
    _unique([u.code for u in d.unions], "union code", source)
    _unique([w.name for w in d.wards], "ward", source)
    _unique([w.name for w in d.workplaces], "workplace", source)
    _unique([w.tax_code for w in d.workplaces if w.tax_code], "tax code", source)
    _unique(
        [a.casefold() for w in d.wards for a in (w.name, *w.aliases)], "ward name or alias", source
    )

    roots = [u.code for u in d.unions if u.parent is None]
    if len(roots) != 1:
        raise DirectoryError(
            f"{source}: exactly one union must have parent: null (the root federation), "
            f"found {len(roots)}: {', '.join(roots) or 'none'}"
        )
    parents = {u.code: u.parent for u in d.unions}
    for i, union in enumerate(d.unions):
        where = f"unions[{i}] ({union.code})"
        if union.parent is not None and union.parent not in codes:
            raise DirectoryError(f"{where}: parent {union.parent!r} is not in unions")
        if union.ward is not None and union.ward not in wards:
            raise DirectoryError(f"{where}: ward {union.ward!r} is not in wards")
        seen = {union.code}
        code = union.parent
        while code is not None:
            if code in seen:
                raise DirectoryError(f"{where}: its parents form a loop")
            seen.add(code)
            code = parents.get(code)
    for i, ward in enumerate(d.wards):
        if ward.organizing_union not in codes:
            raise DirectoryError(
                f"wards[{i}] ({ward.name}): organizing_union {ward.organizing_union!r} "
                "is not in unions"
            )
    for i, place in enumerate(d.workplaces):
        where = f"workplaces[{i}] ({place.name})"
        if place.ward not in wards:
            raise DirectoryError(f"{where}: ward {place.ward!r} is not in wards")
        if place.union is not None and place.union not in codes:
            raise DirectoryError(f"{where}: union {place.union!r} is not in unions")
