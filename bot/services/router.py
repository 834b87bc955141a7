"""The router: which union's queue a case goes to, by the four rules of DESIGN.md.

1. The workplace the worker names matches a directory workplace that has a union → that union.
2. It matches but has no union → the organizing union of the workplace's ward.
3. No workplace match, but a ward is recognised (new name or an old one it absorbed) → that
   ward's organizing union.
4. Nothing recognised → the root federation.

Names are compared the way workers type them: without diacritics, in any case, with chat
shorthand and one-letter typos, and without legal-form words (cty, TNHH, CP, HTX, KS, BV…).
Numbers must match exactly (Phường 1 is not Phường 11) and a tax code matches its workplace.
When two different places match equally well the router does not guess: `match_*` returns
both (a chat asks the worker to choose) and `route` falls through to the next rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.text import one_edit, words
from storage import unions
from storage.directory import Directory

# Words that say what kind of organisation it is, not which one.
LEGAL_FORMS = (
    "công ty", "cty", "ct", "cong ty", "tnhh", "trách nhiệm hữu hạn", "cp", "cổ phần", "mtv",
    "một thành viên", "dntn", "doanh nghiệp tư nhân", "doanh nghiệp", "dn", "htx",
    "hợp tác xã", "ks", "khách sạn", "bv", "bệnh viện", "nhà hàng", "nh", "chi nhánh",
    "tập đoàn", "tổng công ty", "xí nghiệp", "nhà máy", "xưởng", "cơ sở", "cửa hàng",
)  # fmt: skip
# Words around a ward's name: its kind and the former city it belonged to.
WARD_WORDS = (
    "phường", "p", "xã", "x", "thị trấn", "tt", "đà lạt", "da lat", "dl", "thành phố", "tp",
    "tỉnh", "lâm đồng", "quận", "huyện",
)  # fmt: skip
ACCEPT = 0.75  # the least similarity that counts as a match
TYPO = 0.9  # a word matched one edit away counts this much


@dataclass(frozen=True, slots=True)
class Route:
    """The decision: the union's code, the workplace matched, the ward used, the rule."""

    union: str
    workplace: str | None
    ward: str | None
    rule: int

    def as_json(self) -> dict[str, object]:
        return {
            "union": self.union,
            "workplace": self.workplace,
            "ward": self.ward,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class _Place:
    name: str  # the directory name, reported in the output
    forms: tuple[tuple[str, ...], ...]  # its name and aliases as comparable words


def _split(text: str) -> list[str]:
    """Folded words, with letters and digits apart ("p8" → "p", "8"), numbers without
    leading zeros ("08" → "8") and repeated letters once."""
    out: list[str] = []
    for word in words(text):
        for part in re.findall(r"[a-z]+|\d+", word):
            if part.isdigit():  # lstrip, not int(): int() refuses runs over 4300 digits
                out.append(part.lstrip("0") or "0")
            else:  # "vienn", "nguyennn": a held-down key; Vietnamese has no double letters
                out.append(re.sub(r"(.)\1+", r"\1", part))
    return out


def _phrases(items: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    # Longest first, so that "công ty" goes before "ct" would split it.
    return tuple(sorted({tuple(_split(item)) for item in items}, key=len, reverse=True))


_LEGAL = _phrases(LEGAL_FORMS)
_WARD = _phrases(WARD_WORDS)


def core(text: str, drop: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The words that name the place, with the phrases in `drop` removed."""
    tokens = _split(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in drop:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


def similarity(typed: Sequence[str], name: Sequence[str]) -> float:
    """Dice similarity of two word lists; a word may match one edit away, a number only
    exactly."""
    if not typed or not name:
        return 0.0
    unused = list(name)
    exact = typos = 0
    for word in typed:
        if word in unused:
            unused.remove(word)
            exact += 1
            continue
        near = next((n for n in unused if _typo(word, n)), None)
        if near is not None:
            unused.remove(near)
            typos += 1
    if not exact:  # a name matched by typos alone is a coincidence ("quan pho" ~ "xuan ho")
        return 0.0
    return 2 * (exact + TYPO * typos) / (len(typed) + len(name))


def _typo(typed: str, word: str) -> bool:
    """One edit apart, for words long enough that one edit is a typo and not another word:
    Vietnamese syllables are short ("pho"/"ho", "quan"/"xuan"). Numbers never."""
    if typed.isdigit() or word.isdigit() or not one_edit(typed, word):
        return False
    short, long = sorted((len(typed), len(word)))
    if short >= 5 or (short >= 4 and long == 5):  # "nguyenn", "bian" for "biang"
        return True
    # Short words: only two neighbouring letters swapped ("vein" for "vien").
    return short == long >= 4 and sorted(typed) == sorted(word)


def _best(places: Sequence[_Place], typed: tuple[str, ...]) -> tuple[str, ...]:
    """The names of the places that match best (several when tied), or none."""
    if not typed:
        return ()
    scored = [(max(similarity(typed, form) for form in place.forms), place) for place in places]
    top = max((score for score, _ in scored), default=0.0)
    if top < ACCEPT:
        return ()
    return tuple(dict.fromkeys(place.name for score, place in scored if score == top))


class Router:
    """Routes by a directory (from a file or from the database), kept in memory."""

    def __init__(self, directory: Directory) -> None:
        self.root = directory.root.code
        self._workplaces = {w.name: w for w in directory.workplaces}
        self._wards = {w.name: w for w in directory.wards}
        self._by_tax_code = {
            re.sub(r"\D", "", w.tax_code): w.name for w in directory.workplaces if w.tax_code
        }
        self._workplace_places = [
            _Place(w.name, tuple(f for f in (core(n, _LEGAL) for n in (w.name, *w.aliases)) if f))
            for w in directory.workplaces
        ]
        self._ward_places = [
            _Place(w.name, tuple(f for f in (core(n, _WARD) for n in (w.name, *w.aliases)) if f))
            for w in directory.wards
        ]

    def match_workplace(self, text: str | None) -> tuple[str, ...]:
        """The directory workplaces that `text` names: one, several equally good, or none."""
        if not text or not text.strip():
            return ()
        # "5800-100-006" and "5800100006 - 001" are tax codes too.
        joined = re.sub(r"(?<=\d)[\s.\-]+(?=\d)", "", text)
        for digits in re.findall(r"\d+", joined):
            name = self._by_tax_code.get(digits) or (
                self._by_tax_code.get(digits[:10]) if len(digits) == 13 else None
            )
            if name:
                return (name,)
        return _best(self._workplace_places, core(text, _LEGAL))

    def match_ward(self, text: str | None) -> tuple[str, ...]:
        """The wards that `text` names (by the new name or an old one it absorbed)."""
        if not text or not text.strip():
            return ()
        return _best(self._ward_places, core(text, _WARD))

    def route(self, workplace: str | None = None, ward: str | None = None) -> Route:
        """The four rules; ties are not guessed and fall through to the next rule."""
        workplaces = self.match_workplace(workplace)
        if len(workplaces) == 1:
            return self.for_workplace(workplaces[0])
        wards = self.match_ward(ward)
        if len(wards) == 1:
            return self.for_ward(wards[0])
        return Route(self.root, None, None, 4)

    def for_workplace(self, name: str) -> Route:
        """Rules 1 and 2 for a workplace the worker confirmed."""
        place = self._workplaces[name]
        if place.union:
            return Route(place.union, place.name, place.ward, 1)
        return Route(self._wards[place.ward].organizing_union, place.name, place.ward, 2)

    def for_ward(self, name: str) -> Route:
        """Rule 3 for a ward the worker confirmed."""
        return Route(self._wards[name].organizing_union, None, name, 3)


async def for_session(session: AsyncSession) -> Router | None:
    """A router over the directory in the database (None before any import)."""
    directory = await unions.directory(session)
    return Router(directory) if directory is not None else None
