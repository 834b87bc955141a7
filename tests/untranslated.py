"""Finding text a person reads that skipped the catalogs, for the dashboard and CLI tests.

Three signs, all derived from the code and the catalog rather than from a list of known
leaks, so a new one is caught too:
- an English msgid (whose Vietnamese differs, with a word of 4+ letters) shown as it is;
- an internal code value (a form's Choice values, case kinds and statuses, evidence
  statuses, officer roles, union levels) shown as a word of its own;
- two English words in a row that no Vietnamese translation uses (text that never went
  through the catalog at all, such as an exception's message).
"""

from __future__ import annotations

import functools
import importlib
import itertools
import pkgutil
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

import handlers
from bot.services import labels
from bot.services.labels import Choice
from storage import models, officers

ROOT = Path(__file__).resolve().parents[1]
VI_CATALOG = ROOT / "content" / "locales" / "vi" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
WORD = re.compile(r"(?<!\w)[^\W\d_]+(?!\w)")  # letters only: "HR9HR" in a code is no word
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


@functools.cache
def _catalog() -> dict[str, str]:
    with VI_CATALOG.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and isinstance(m.id, str)}


@functools.cache
def english_messages() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(msgid, pattern) for each msgid worth looking for: placeholders match anything and
    spaces any run of whitespace; it must stand alone (not inside a longer word)."""
    found = []
    for msgid, vietnamese in _catalog().items():
        if vietnamese == msgid or not re.search(r"[A-Za-z]{4}", PLACEHOLDER.sub("", msgid)):
            continue
        parts = [
            r"\s+".join(re.escape(word) for word in literal.split())
            for literal in PLACEHOLDER.split(msgid.strip())
        ]
        body = r"\s*.+?\s*".join(part for part in parts)
        found.append((msgid, re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)))
    return tuple(found)


def _body(path: Path) -> str:
    """An article without its front matter (whose keys are English in every language)."""
    return path.read_text("utf-8").split("\n---", 1)[-1]


@functools.cache
def english_words() -> frozenset[str]:
    """Words of the English msgids and articles that no Vietnamese translation or article
    uses ("Telegram", "PIN" and "CSV" are used in both, so they do not count)."""
    faq = ROOT / "content" / "faq"
    vietnamese = [*_catalog().values(), *map(_body, faq.glob("vi/*.md"))]
    english = [*_catalog(), *map(_body, faq.glob("en/*.md"))]
    known = {w.lower() for text in vietnamese for w in WORD.findall(PLACEHOLDER.sub("", text))}
    words = {w.lower() for text in english for w in ENGLISH_WORD.findall(PLACEHOLDER.sub("", text))}
    return frozenset(words - known)


@functools.cache
def code_values() -> frozenset[str]:
    """Values the code stores and compares, never meant to be read: every Choice of the
    labels table and of every handler module, and the fixed value lists of the models."""
    values: set[str] = set()
    modules = [
        importlib.import_module(f"handlers.{i.name}")
        for i in pkgutil.iter_modules(handlers.__path__)
    ]
    for module in (labels, *modules):
        for value in vars(module).values():
            choices = value if isinstance(value, tuple) else (value,)
            values.update(c.value for c in choices if isinstance(c, Choice))
    for name, value in vars(models).items():
        if name.isupper() and isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            values.update(value)
    values.update(officers.ROLES)
    return frozenset(v for v in values if WORD.fullmatch(v.replace("_", "a")))


class _Visible(HTMLParser):
    """The text a person sees or hears: element text and the attributes read out or shown
    (placeholder, title, alt, aria-label), without scripts and styles."""

    SHOWN_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts.extend(v for k, v in attrs if k in self.SHOWN_ATTRIBUTES and v)
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.parts.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1
        self.parts.append("\n")  # a new element is a new phrase

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def leaks(text: str, codes: Iterable[str] = ()) -> list[str]:
    """What in `text` looks untranslated: msgids, code values (with `codes`, values the
    caller found stored), English phrases."""
    found = [f"msgid {msgid!r}" for msgid, pattern in english_messages() if pattern.search(text)]
    found += [
        f"code {code!r}"
        for code in sorted({*code_values(), *codes})
        if re.search(rf"(?<![\w.-]){re.escape(code)}(?![\w.-])", text)
    ]
    english = english_words()
    for line in text.splitlines():
        words = WORD.findall(line)
        found += [
            f"English {a} {b!r} in {line.strip()!r}"
            for a, b in itertools.pairwise(words)
            if a.lower() in english and b.lower() in english
        ]
    return found
