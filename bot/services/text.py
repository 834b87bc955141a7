"""Vietnamese text as workers type it: folding diacritics, accent keys, words, one-edit
typos. Shared by the FAQ search (knowledge.py) and the router (router.py)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+")


_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Lower case without diacritics; đ has no decomposition, so it is mapped by hand."""
    stripped = _COMBINING.sub("", unicodedata.normalize("NFD", text.lower()))
    return stripped.replace("đ", "d").replace("ð", "d")


# Words repeat endlessly in articles and questions; folding each once is most of the speed.
fold_word = functools.lru_cache(maxsize=1 << 16)(fold)


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return _WORD.findall(fold(text))


# The five tone marks. Their place in a syllable varies (hoá/hóa), so an accent key puts the
# tone last; the other marks (â, ă, ê, ô, ơ, ư) stay where they are.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_ACCENTED_WORD = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=1 << 16)
def accent_key(word: str) -> str:
    """One spelling per accented word, whatever the Unicode form or tone placement."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = [ch for ch in decomposed if ch in _TONES]
    rest = "".join(ch for ch in decomposed if ch not in _TONES)
    return unicodedata.normalize("NFC", rest) + (tones[-1] if tones else "")


def accented_words(text: str) -> list[str]:
    """The words of a text as accent keys, in order (plain words stay plain)."""
    return [accent_key(w) for w in _ACCENTED_WORD.findall(unicodedata.normalize("NFC", text))]


def has_diacritics(text: str) -> bool:
    return fold(text) != text.lower()


def deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def deletion_index(lexicon: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """SymSpell-style: every word one deletion away -> the words it came from."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in lexicon:
        for deleted in deletes(word):
            index[deleted].append(word)
    return {key: tuple(value) for key, value in index.items()}


def one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


# Vietnamese mobile numbers: 0 or +84/84, then a 3, 5, 7, 8 or 9 and eight more digits.
_MOBILE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")


def vietnamese_mobile(text: str) -> str | None:
    """The number as 0XXXXXXXXX, whatever the spaces, dots, dashes or +84; else None."""
    digits = re.sub(r"[\s.\-()]", "", text.strip())
    found = _MOBILE.match(digits)
    return f"0{found.group(1)}" if found else None


_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?84|0)[\s.\-]?[35789](?:[\s.\-]?\d){8}(?!\d)")
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_IN_TEXT = re.compile(
    r"\b(?:t[oô]i|em|m[iì]nh|anh|ch[iị])\s+t[eê]n\s+(?:l[aà]\s+)?\w+"
    r"|\bt[eê]n\s+(?:t[oô]i|em|m[iì]nh)\s+(?:l[aà]\s+)?\w+",
    re.IGNORECASE,
)


def identifying(text: str) -> list[str]:
    """What in a text could show who wrote it: 'phone', 'email', 'name'."""
    found = []
    if _PHONE_IN_TEXT.search(text):
        found.append("phone")
    if _EMAIL_IN_TEXT.search(text):
        found.append("email")
    if _NAME_IN_TEXT.search(unicodedata.normalize("NFC", text)):
        found.append("name")
    return found


def whole_number(value: object, digits: int = 11) -> int | None:
    """The number a text (a URL part, a form field, a command's argument) writes with ASCII
    digits alone, at most `digits` of them; None for anything else. str.isdigit() alone takes
    "²", which int() then refuses, and a long run of digits overflows the database's integers."""
    text = value if isinstance(value, str) else ""
    if not text or len(text) > digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
