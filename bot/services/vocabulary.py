"""content/vocabulary.yaml: how workers type (shorthand, phrases, stopwords) and the
phrases of the replies of their own (greetings, thanks, "who are you?", danger, politics).
Read by the knowledge base (bot/services/knowledge.py) and by the matcher's features
(bot/services/matcher.py, also in its training child process)."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.services.text import accent_key, accented_words, fold_word, words

try:  # libyaml parses several times faster; the pure-Python loader also works
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

SMALLTALK_WORDS = 10  # a longer message is a question, whatever its words
SMALLTALK = ("identity", "thanks", "greeting")  # the most telling first: "chào bạn, bạn là ai"
# Kinds of content/vocabulary.yaml phrases looked for anywhere in a message. "harmless" phrases
# only look like one of the others ("bị đánh giá" is being assessed, not beaten) and are
# skipped; "work" marks a union or labour question, never a political one.
SIGNALS = ("harmless", "danger", "politics", "work")  # on a tie, the first wins
# What an emoji may carry besides itself: variation selectors, skin tones, zero-width joiner.
_EMOJI_MARKS = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


class ContentError(ValueError):
    """An article or the vocabulary is malformed; the message names the file and the fix."""


# ---------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True, slots=True)
class _Entry:
    """A vocabulary key: folded for matching, with its accent keys to check when typed with
    diacritics ("hông" must not take "hồng"), and what it stands for."""

    typed: tuple[str, ...]
    meant: tuple[str, ...]

    def matches(self, tokens: Sequence[str]) -> bool:
        # A word typed without diacritics matches any spelling; one typed with diacritics
        # must match the key's own diacritics (a key without any accepts only plain words).
        return all(t == fold_word(t) or t == k for t, k in zip(tokens, self.typed, strict=True))

    def matches_strictly(self, tokens: Sequence[str]) -> bool:
        """Like matches, but a one-word key only as typed: a lone folded word is too often
        another one ("dang" is mostly "đang", now, rather than "đảng", the Party)."""
        return tokens[0] == self.typed[0] if len(self.typed) == 1 else self.matches(tokens)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """content/vocabulary.yaml: shorthand, phrases, stopwords, small talk, and the phrases
    of the replies of their own (identity, danger, politics)."""

    entries: dict[tuple[str, ...], tuple[_Entry, ...]]  # by folded key
    starts: frozenset[str]  # the folded first words of the keys
    longest: int
    stopwords: frozenset[str]  # accent keys, and folded forms of the plain ones
    stop_folded: frozenset[str]
    smalltalk_phrases: dict[tuple[str, ...], str]  # folded words -> a kind of SMALLTALK
    smalltalk_longest: int
    polite: frozenset[str]
    thanks_emoji: frozenset[str]  # without variation selectors and skin tones
    signals: _Signals

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ContentError(f"{path}: cannot read the vocabulary: {exc}") from exc
        lists = ("stopwords", "greetings", "thanks", "identity", "polite", "thanks_emoji")
        for key in (*lists, *SIGNALS):
            items = data.get(key) or []
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise ContentError(f"{path}: '{key}' must list texts (quote yes, no, on, off)")
        entries: dict[tuple[str, ...], list[_Entry]] = defaultdict(list)
        for key in ("shorthand", "phrases"):
            section = data.get(key) or {}
            if not isinstance(section, dict):
                raise ContentError(f"{path}: '{key}' must map words to words")
            for typed, meant in section.items():
                entry = _Entry(tuple(accented_words(str(typed))), tuple(accented_words(str(meant))))
                if not entry.typed or not entry.meant:
                    raise ContentError(f"{path}: '{key}' has an empty entry near {typed!r}")
                entries[tuple(fold_word(w) for w in entry.typed)].append(entry)
        stop = {accent_key(w) for item in data.get("stopwords") or () for w in item.split()}

        small: dict[tuple[str, ...], str] = {}
        for kind in SMALLTALK:
            for item in data.get("greetings" if kind == "greeting" else kind) or ():
                small.setdefault(tuple(words(item)), kind)
        small.pop((), None)
        emoji = {_EMOJI_MARKS.sub("", item) for item in data.get("thanks_emoji") or ()}
        if "" in emoji or any(ch.isalnum() for item in emoji for ch in item):
            raise ContentError(f"{path}: 'thanks_emoji' must list emoji only")
        return cls(
            entries={key: tuple(value) for key, value in entries.items()},
            starts=frozenset(key[0] for key in entries),
            longest=max((len(key) for key in entries), default=1),
            stopwords=frozenset(stop),
            stop_folded=frozenset(fold_word(w) for w in stop),
            smalltalk_phrases=small,
            smalltalk_longest=max((len(key) for key in small), default=1),
            polite=frozenset(w for item in data.get("polite") or () for w in words(item)),
            thanks_emoji=frozenset(emoji),
            signals=_Signals.build(path, data),
        )

    def is_stopword(self, token: str) -> bool:
        """Typed with diacritics: that exact word is a stopword; without: any spelling is."""
        return token in self.stopwords if token != fold_word(token) else token in self.stop_folded

    def tokens(self, text: str) -> list[str]:
        """The words of a text as accent keys, shorthand and phrases expanded."""
        return self.expand(accented_words(text))

    def expand(self, tokens: Sequence[str]) -> list[str]:
        """Shorthand words and known phrases replaced by what they stand for."""
        out: list[str] = []
        folded = [fold_word(t) for t in tokens]
        i = 0
        while i < len(tokens):
            if folded[i] not in self.starts:  # most words start no entry at all
                out.append(tokens[i])
                i += 1
                continue
            for size in range(min(self.longest, len(tokens) - i), 0, -1):
                candidates = self.entries.get(tuple(folded[i : i + size]))
                if not candidates:
                    continue
                window = tokens[i : i + size]
                found = next((entry for entry in candidates if entry.matches(window)), None)
                if found is not None:
                    out.extend(found.meant)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def smalltalk(self, text: str) -> str | None:
        """What a message that is not a question is: 'identity' (who answers here?), 'thanks',
        'greeting' when made only of such phrases and polite words; 'thanks' or 'emoji' when
        made only of emoji and punctuation. None for anything else."""
        tokens = words(text)
        if not tokens:
            return self._emoji(text)
        if len(tokens) > SMALLTALK_WORDS:
            return None
        found: set[str] = set()
        i = 0
        while i < len(tokens):
            for size in range(min(self.smalltalk_longest, len(tokens) - i), 0, -1):
                kind = self.smalltalk_phrases.get(tuple(tokens[i : i + size]))
                if kind:
                    found.add(kind)
                    i += size
                    break
            else:
                if tokens[i] not in self.polite:
                    return None
                i += 1
        return next((kind for kind in SMALLTALK if kind in found), None)

    def _emoji(self, text: str) -> str | None:
        if any(ch.isalnum() for ch in text):  # letters of another script, say
            return None
        plain = _EMOJI_MARKS.sub("", text)
        if any(emoji in plain for emoji in self.thanks_emoji):
            return "thanks"
        return "emoji" if any(unicodedata.category(ch) == "So" for ch in plain) else None

    def signal(self, tokens: Sequence[str]) -> str | None:
        """'danger' when a danger phrase is anywhere in the message (its `tokens()`); else
        'politics' when a politics phrase is and nothing names the union or work; else None."""
        found = self.signals.find(tokens)
        if "danger" in found:
            return "danger"
        return "politics" if "politics" in found and "work" not in found else None


@dataclass(frozen=True, slots=True)
class _Signals:
    """The phrases looked for anywhere in a message, each with its kind (SIGNALS)."""

    table: dict[tuple[str, ...], tuple[tuple[_Entry, str], ...]]  # by folded key
    starts: frozenset[str]
    longest: int

    @classmethod
    def build(cls, path: Path, data: dict[str, list[str]]) -> _Signals:
        table: dict[tuple[str, ...], list[tuple[_Entry, str]]] = defaultdict(list)
        for kind in SIGNALS:
            for item in data.get(kind) or ():
                typed = tuple(accented_words(item))
                if not typed:
                    raise ContentError(f"{path}: '{kind}' has an empty entry near {item!r}")
                table[tuple(fold_word(w) for w in typed)].append((_Entry(typed, typed), kind))
        return cls(
            {key: tuple(value) for key, value in table.items()},
            starts=frozenset(key[0] for key in table),
            longest=max((len(key) for key in table), default=1),
        )

    def find(self, tokens: Sequence[str]) -> set[str]:
        """The kinds of the phrases in the tokens, longest phrase first at each word so that
        a harmless phrase hides the shorter one inside it."""
        folded = [fold_word(t) for t in tokens]
        found: set[str] = set()
        i = 0
        while i < len(tokens):
            hit = self._longest_at(tokens, folded, i) if folded[i] in self.starts else None
            if hit is None:
                i += 1
                continue
            size, kind = hit
            found.add(kind)
            i += size
        return found

    def _longest_at(
        self, tokens: Sequence[str], folded: Sequence[str], i: int
    ) -> tuple[int, str] | None:
        """The size and kind of the longest phrase starting at word i."""
        for size in range(min(self.longest, len(tokens) - i), 0, -1):
            window = tokens[i : i + size]
            for entry, kind in self.table.get(tuple(folded[i : i + size]), ()):
                if entry.matches_strictly(window):
                    return size, kind
        return None
