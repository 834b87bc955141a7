"""The knowledge base: FAQ articles from content/faq and the search that finds the right one
the way workers actually type (no diacritics, wrong Unicode form, shorthand, typos).

Everything is compared in a folded form: NFD, combining marks dropped, đ → d, lower case.
That makes NFC/NFD and old/new tone placement (hoá/hóa) the same word. Shorthand and phrases
from content/vocabulary.yaml are expanded, unknown words are corrected to the nearest word of
the articles (one edit away), and the articles are scored with BM25 over single words and word
pairs (Vietnamese words are mostly two syllables, so pairs carry the meaning). Two views are
scored and added: each topic as one document (title, keywords, example questions, body) and
each example question on its own (the best one counts). A confidence in 0..1 combines how much
of the question the best topic explains with how far it is ahead of the next; below
THRESHOLD the search declines and offers suggestions instead of guessing.

Some messages need a reply of their own, found from the vocabulary's phrase lists: short ones
that are only a greeting, thanks, emoji or "who are you?", and, anywhere in a message, a
threat to the person's safety or a political question (the latter only when no topic is
confident).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import yaml

from bot.services.text import (
    accent_key,
    accented_words,
    deletes,
    deletion_index,
    fold_word,
    has_diacritics,
    one_edit,
    words,
)

try:  # libyaml parses the articles several times faster; the pure-Python loader also works
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

_T = TypeVar("_T")

LANGUAGES = ("vi", "en")
OFFTOPIC = ""  # the pseudo-topic of content/offtopic.yaml: "not about work or the union"
NEXT_STEPS = ("ask", "report", "join", "support")
THRESHOLD = 0.5  # confidence_of is a probability: answer when more likely right than wrong
SOON_DAYS = 45
MIN_QUESTIONS = 8

# Field weights of the topic document: a word in the title or keywords says more than one in
# the body. The example-question view is added with QUESTION_WEIGHT.
FIELD_WEIGHTS = {"title": 3, "keywords": 2, "questions": 1, "body": 1}
QUESTION_WEIGHT = 0.6
PAIR_WEIGHT = 1.3  # a matching word pair counts a bit more than its two words
TYPO_WEIGHT = 0.7  # a corrected word counts less than one typed right
NEAR = 0.35  # suggestions: topics scoring at least this share of the best
OFFTOPIC_CLOSE = 0.8  # ...or this share when the best is "none of these"
ACCENT_SHARE = 0.7  # a word typed with diacritics: its accented form's share of its weight
BM25_K1 = 1.2
BM25_B = 0.6
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


def _stem_en(word: str) -> str:
    """A crude English stemmer: plurals and -ing/-ed, enough to match 'wages' to 'wage'."""
    for suffix, keep in (("ies", 4), ("ing", 5), ("ed", 4), ("es", 4), ("s", 3)):
        if word.endswith(suffix) and len(word) > keep and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


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


# ---------------------------------------------------------------------------- articles


@dataclass(frozen=True, slots=True)
class Article:
    """One FAQ article in one language (content/faq/<language>/<id>.md)."""

    id: str
    language: str
    title: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    sources: tuple[str, ...]
    updated: date
    valid_from: date | None
    valid_until: date | None
    next: tuple[str, ...]
    body: str
    path: Path

    @property
    def group(self) -> str:
        return self.id.partition(".")[0]

    def is_stale(self, today: date) -> bool:
        """Past valid_until: the figures may have changed."""
        return self.valid_until is not None and today > self.valid_until

    def is_soon_stale(self, today: date, days: int = SOON_DAYS) -> bool:
        return (
            self.valid_until is not None
            and not self.is_stale(today)
            and self.valid_until - today <= timedelta(days=days)
        )


def parse_article(path: Path, language: str) -> Article:
    """Read and validate one article; ContentError names the file and what is wrong."""
    meta, body = _front_matter(path)
    article = Article(
        id=meta.need("id", str),
        language=language,
        title=meta.need("title", str).strip(),
        questions=meta.strings("questions"),
        keywords=meta.strings("keywords", required=False),
        sources=meta.strings("sources"),
        updated=meta.day("updated") or _missing(path, "updated"),
        valid_from=meta.day("valid_from"),
        valid_until=meta.day("valid_until"),
        next=meta.strings("next"),
        body=body.strip(),
        path=path,
    )
    _validate(article)
    return article


@dataclass(frozen=True, slots=True)
class _FrontMatter:
    """An article's front matter, read field by field; ContentError names the file."""

    path: Path
    meta: Mapping[object, object]

    def need(self, key: str, kind: type[_T]) -> _T:
        value = self.meta.get(key)
        empty = isinstance(value, (str, list)) and not value
        if empty or not isinstance(value, kind):
            raise ContentError(f"{self.path}: '{key}' is missing or not a {_kind_name(kind)}")
        return value

    def strings(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self.need(key, list) if required else self.meta.get(key)
        if value is None:
            return ()
        if isinstance(value, list):
            # YAML reads an unquoted 253.000 as a number; a search hint may still use it as text.
            texts = [str(v).strip() if isinstance(v, (str, int, float)) else "" for v in value]
            if all(texts):
                return tuple(texts)
        raise ContentError(f"{self.path}: '{key}' must be a list of non-empty texts")

    def day(self, key: str) -> date | None:
        value = self.meta.get(key)
        if value is None:
            return None
        if not isinstance(value, date):
            raise ContentError(f"{self.path}: '{key}' must be a date like 2026-07-01")
        return value


def _front_matter(path: Path) -> tuple[_FrontMatter, str]:
    """An article file's front matter (a YAML mapping between '---' lines) and its body."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read: {exc}") from exc
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        raise ContentError(f"{path}: must start with front matter between '---' lines")
    head, body = text[4:].split("\n---\n", 1)
    try:
        meta = yaml.load(head, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ContentError(f"{path}: front matter must be a mapping")
    return _FrontMatter(path, meta), body


def _validate(article: Article) -> None:
    """The rules between an article's fields and its file name."""
    path = article.path
    if article.id != path.stem:
        raise ContentError(f"{path}: id '{article.id}' must equal the file name")
    if len(article.questions) < MIN_QUESTIONS:
        raise ContentError(f"{path}: needs at least {MIN_QUESTIONS} example questions")
    if bad := [step for step in article.next if step not in NEXT_STEPS]:
        raise ContentError(f"{path}: unknown next step {bad[0]!r} (use {', '.join(NEXT_STEPS)})")
    if article.valid_from and article.valid_until and article.valid_from > article.valid_until:
        raise ContentError(f"{path}: valid_from is after valid_until")
    if not article.body:
        raise ContentError(f"{path}: the answer text after the front matter is empty")


def _missing(path: Path, key: str) -> date:
    raise ContentError(f"{path}: '{key}' is missing (a date like 2026-11-25)")


_KIND_NAMES: dict[type, str] = {str: "text", list: "list", dict: "mapping"}


def _kind_name(kind: type) -> str:
    return _KIND_NAMES.get(kind, "value")


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    title_vi: str
    topics: tuple[str, ...]


def load_taxonomy(path: Path) -> tuple[Group, ...]:
    """The topic groups and ids of content/taxonomy.yaml, in file order."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"{path}: cannot read the taxonomy: {exc}") from exc
    # An empty file reads as None.
    if not isinstance(data, dict) or not all(isinstance(group, dict) for group in data.values()):
        raise ContentError(f"{path}: must map each group id to its title_vi and topics")
    return tuple(
        Group(group_id, str(group.get("title_vi", group_id)), tuple(group.get("topics") or ()))
        for group_id, group in data.items()
    )


def load_offtopic(path: Path) -> dict[str, tuple[str, ...]]:
    """content/offtopic.yaml: per language, messages that are not about work or the union."""
    if not path.is_file():
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
    ):
        raise ContentError(f"{path}: must map a language to a list of texts")
    return {language: tuple(texts) for language, texts in data.items()}


@dataclass(frozen=True, slots=True)
class ContentReport:
    """What `unionbot content check` prints."""

    problems: tuple[str, ...]
    stale: tuple[Article, ...]
    soon_stale: tuple[Article, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.stale


def load_articles(
    content_dir: Path, taxonomy: Sequence[Group]
) -> tuple[dict[str, dict[str, Article]], list[str]]:
    """All articles by language and id, plus the problems found (missing, invalid, unknown)."""
    known = {topic for group in taxonomy for topic in group.topics}
    articles: dict[str, dict[str, Article]] = {language: {} for language in LANGUAGES}
    problems: list[str] = []
    for language in LANGUAGES:
        folder = content_dir / "faq" / language
        for path in sorted(folder.glob("*.md")):
            try:
                article = parse_article(path, language)
            except ContentError as exc:
                problems.append(str(exc))
                continue
            if article.id not in known:
                problems.append(f"{path}: '{article.id}' is not a topic id of the taxonomy")
                continue
            articles[language][article.id] = article
        problems.extend(
            f"{folder / topic}.md: missing" for topic in sorted(known - set(articles[language]))
        )
    return articles, problems


def check(content_dir: Path, today: date, soon_days: int = SOON_DAYS) -> ContentReport:
    """Validate every article and list the stale and soon-stale ones."""
    taxonomy = load_taxonomy(content_dir / "taxonomy.yaml")
    articles, problems = load_articles(content_dir, taxonomy)
    try:
        Vocabulary.load(content_dir / "vocabulary.yaml")
    except ContentError as exc:
        problems.append(str(exc))
    every = [a for by_id in articles.values() for a in by_id.values()]
    return ContentReport(
        problems=tuple(problems),
        stale=tuple(a for a in every if a.is_stale(today)),
        soon_stale=tuple(a for a in every if a.is_soon_stale(today, soon_days)),
    )


# ---------------------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class Query:
    """A question turned into weighted terms; `parts` says, for each content word, its weight
    (idf) and which terms stand for it, for the coverage part of the confidence."""

    terms: dict[str, float]
    parts: tuple[tuple[float, tuple[tuple[str, float], ...]], ...]
    words: tuple[str, ...]  # folded content words after expansion and correction


class Index:
    """BM25 over one language's articles: a topic view and an example-question view.

    Every word is indexed twice: folded (matches however it was typed) and, when it has
    diacritics, as typed ("~" + its accent key). A question typed with diacritics is matched
    mostly on its accented words, so "mưa" (rain) does not find "mua" (buy) or "Mái ấm"."""

    def __init__(
        self,
        articles: Iterable[Article],
        vocabulary: Vocabulary,
        language: str,
        offtopic: Sequence[str] = (),
    ) -> None:
        self.language = language
        self.vocabulary = vocabulary
        self.topics: list[str] = []
        topic_docs: list[Counter[str]] = []
        question_docs: list[Counter[str]] = []
        self.question_topic: list[int] = []
        # First pass: the articles' own words, so that typos can be corrected towards them.
        raw: list[tuple[str, dict[str, list[list[str]]]]] = []
        self.lexicon: Counter[str] = Counter()
        for article in articles:
            fields = {
                "title": [self._tokens(article.title)],
                "keywords": [self._tokens(k) for k in article.keywords],
                "questions": [self._tokens(q) for q in article.questions],
                "body": [self._tokens(article.body)],
            }
            raw.append((article.id, fields))
            for texts in fields.values():
                for tokens in texts:
                    self.lexicon.update({fold_word(token) for token in tokens})
        self._deletes = deletion_index(w for w in self.lexicon if len(w) >= 4)
        if offtopic:
            # "None of these": one more topic made of off-topic messages. It competes like
            # the others, so a weather question finds it rather than the nearest article.
            # Its words stay out of the lexicon: typos are corrected towards articles only.
            examples = [self._tokens(text) for text in offtopic]
            raw.append((OFFTOPIC, {"title": [], "keywords": [], "questions": examples, "body": []}))
        for number, (topic, fields) in enumerate(raw):
            self.topics.append(topic)
            doc: Counter[str] = Counter()
            for name, texts in fields.items():
                for tokens in texts:
                    for term in self._doc_terms(tokens):
                        doc[term] += FIELD_WEIGHTS[name]
            topic_docs.append(doc)
            for tokens in fields["questions"] + fields["title"] + fields["keywords"]:
                question_docs.append(Counter(self._doc_terms(tokens)))
                self.question_topic.append(number)
        self.topic_view = _Bm25(topic_docs)
        self.question_view = _Bm25(question_docs)
        # An unknown word weighs as much as the rarest known one against the question.
        self.max_idf = max(self.topic_view.idf.values(), default=1.0)

    def _tokens(self, text: str, expanded: Sequence[str] | None = None) -> list[str]:
        tokens = self.vocabulary.tokens(text) if expanded is None else list(expanded)
        if self.language == "en":
            tokens = [_stem_en(fold_word(t)) for t in tokens]
        return tokens

    def _doc_terms(self, tokens: Sequence[str]) -> Iterator[str]:
        stop = self.vocabulary.is_stopword
        folded = [fold_word(t) for t in tokens]
        for i, token in enumerate(tokens):
            accented = token != folded[i]
            if not stop(token):
                yield folded[i]
                if accented:
                    yield "~" + token
            if i + 1 < len(tokens) and not (stop(token) and stop(tokens[i + 1])):
                yield f"{folded[i]}_{folded[i + 1]}"
                if accented or tokens[i + 1] != folded[i + 1]:
                    yield f"~{token}_{tokens[i + 1]}"

    def query(self, text: str, expanded: Sequence[str] | None = None) -> Query:
        """Expand (unless `expanded` gives the vocabulary's tokens), correct typos, and weight
        the terms of a question."""
        tokens: list[str] = []
        weights: list[float] = []
        for token in self._tokens(text, expanded):
            plain = fold_word(token)
            if plain in self.lexicon or self.vocabulary.is_stopword(token) or plain.isdigit():
                tokens.append(token)
                weights.append(1.0)
                continue
            fixed = self._correct(plain)
            tokens.extend(fixed or [token])
            weights.extend([TYPO_WEIGHT if fixed else 1.0] * len(fixed or [token]))
        terms: dict[str, float] = {}
        parts: list[tuple[float, tuple[tuple[str, float], ...]]] = []
        content: list[str] = []

        def add(alternatives: tuple[tuple[str, float], ...], weight: float) -> None:
            for term, share in alternatives:
                terms[term] = max(terms.get(term, 0.0), weight * share)

        stop = self.vocabulary.is_stopword
        for i, token in enumerate(tokens):
            if not stop(token):
                alternatives = self._forms(token, fold_word(token))
                add(alternatives, weights[i])
                idf = self.topic_view.idf.get(fold_word(token), self.max_idf)
                parts.append((idf, alternatives))
                content.append(fold_word(token))
            if i + 1 < len(tokens) and not (stop(token) and stop(tokens[i + 1])):
                nxt = tokens[i + 1]
                pair = self._forms(f"{token}_{nxt}", f"{fold_word(token)}_{fold_word(nxt)}")
                add(pair, PAIR_WEIGHT * min(weights[i : i + 2]))
        return Query(terms, tuple(parts), tuple(content))

    def _forms(self, accented: str, folded: str) -> tuple[tuple[str, float], ...]:
        """The terms a word stands for, with their shares: as typed if the articles have it
        with those diacritics, and folded."""
        if accented == folded:
            return ((folded, 1.0),)
        if "~" + accented in self.topic_view.idf:
            return (("~" + accented, ACCENT_SHARE), (folded, 1 - ACCENT_SHARE))
        # Typed with diacritics that no article has: the folded match is most likely another
        # word ("mưa" is not "mua"), so it counts for little.
        return ((folded, 1 - ACCENT_SHARE),)

    def _correct(self, token: str) -> list[str] | None:
        """The article word one edit away (the most common one), or two glued words split."""
        if len(token) >= 4:
            squeezed = re.sub(r"(.)\1+", r"\1", token)
            if squeezed in self.lexicon:
                return [squeezed]
            candidates = {c for d in deletes(token) for c in self._deletes.get(d, ())}
            candidates |= set(self._deletes.get(token, ()))
            near = [c for c in candidates if one_edit(token, c)]
            if near:
                return [max(near, key=lambda c: (self.lexicon[c], c))]
        if len(token) >= 5:
            for cut in range(2, len(token) - 1):
                left, right = token[:cut], token[cut:]
                if left in self.lexicon and right in self.lexicon:
                    return [left, right]
        return None

    def knows(self, word: str) -> bool:
        """Whether the articles use this (folded) word, in any form."""
        plain = _stem_en(word) if self.language == "en" else word
        return plain in self.lexicon

    def rank(self, text: str, expanded: Sequence[str] | None = None) -> Ranked | None:
        """Topics by score for a question, with the evidence about the best; None when
        nothing in the question matches any article."""
        query = self.query(text, expanded)
        scores = self.scores(query) if query.terms else []
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        if not order or scores[order[0]] <= 0:
            return None
        top, best = order[0], scores[order[0]]
        second = scores[order[1]] if len(order) > 1 else 0.0
        evidence = Evidence(
            coverage=self.coverage(query, top),
            margin=(best - second) / best,
            score=best,
            length=len(accented_words(text)),
        )
        # Behind "none of these", only a close runner-up is worth suggesting: a worker's long
        # story can share a few everyday words with the off-topic examples.
        reach = OFFTOPIC_CLOSE if self.topics[top] == OFFTOPIC else NEAR
        near = tuple(self.topics[i] for i in order[:4] if scores[i] >= reach * best)
        return Ranked(near, evidence)

    def scores(self, query: Query) -> list[float]:
        """Per topic: the topic view plus the best example question of that topic."""
        topic_scores = self.topic_view.scores(query.terms)
        best_question = [0.0] * len(self.topics)
        for doc, score in enumerate(self.question_view.scores(query.terms)):
            topic = self.question_topic[doc]
            if score > best_question[topic]:
                best_question[topic] = score
        return [t + QUESTION_WEIGHT * q for t, q in zip(topic_scores, best_question, strict=True)]

    def coverage(self, query: Query, topic: int) -> float:
        """The share of the question's word weight (idf) that the topic's document contains."""
        total = matched = 0.0
        postings = self.topic_view.postings
        for idf, alternatives in query.parts:
            total += idf
            matched += idf * sum(
                share for term, share in alternatives if topic in postings.get(term, {})
            )
        return matched / total if total else 0.0


class _Bm25:
    """Okapi BM25 with precomputed per-term postings (term -> {doc: weight})."""

    def __init__(self, docs: Sequence[Counter[str]]) -> None:
        count = len(docs)
        lengths = [sum(doc.values()) for doc in docs]
        average = (sum(lengths) / count) if count else 1.0
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(doc.keys())
        self.count = count
        self.idf = {
            term: math.log(1 + (count - n + 0.5) / (n + 0.5)) for term, n in frequency.items()
        }
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        for number, doc in enumerate(docs):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[number] / average)
            for term, tf in doc.items():
                self.postings[term][number] = self.idf[term] * tf * (BM25_K1 + 1) / (tf + norm)
        self.postings = dict(self.postings)

    def scores(self, terms: dict[str, float]) -> list[float]:
        out = [0.0] * self.count
        for term, weight in terms.items():
            for doc, value in self.postings.get(term, {}).items():
                out[doc] += weight * value
        return out


# ---------------------------------------------------------------------------- searching


@dataclass(frozen=True, slots=True)
class Match:
    """What the search found: a topic above the threshold, or None and suggestions."""

    topic: str | None
    confidence: float
    suggestions: tuple[str, ...] = ()
    # Not a question for the articles: "greeting", "thanks", "emoji", "identity" (who answers
    # here?), "politics", "danger" (a threat to the person's safety; the only one that may
    # come with a topic, whose answer then follows the safety advice).
    smalltalk: str | None = None
    language: str = "vi"  # the articles' language the match came from


@dataclass(frozen=True)
class Knowledge:
    """Articles, taxonomy and search indexes of both languages, built once at start."""

    taxonomy: tuple[Group, ...]
    articles: dict[str, dict[str, Article]]
    vocabulary: Vocabulary
    indexes: dict[str, Index] = field(repr=False)
    threshold: float = THRESHOLD

    @classmethod
    def load(cls, content_dir: Path) -> Knowledge:
        """Read content/ and build the indexes; ContentError when an article is malformed."""
        taxonomy = load_taxonomy(content_dir / "taxonomy.yaml")
        articles, problems = load_articles(content_dir, taxonomy)
        invalid = [p for p in problems if not p.endswith(": missing")]
        if invalid:
            raise ContentError(invalid[0])
        vocabulary = Vocabulary.load(content_dir / "vocabulary.yaml")
        offtopic = load_offtopic(content_dir / "offtopic.yaml")
        indexes = {
            language: Index(by_id.values(), vocabulary, language, offtopic.get(language, ()))
            for language, by_id in articles.items()
            if by_id
        }
        return cls(taxonomy, articles, vocabulary, indexes)

    def article(self, topic: str, language: str) -> Article | None:
        """The article in the language asked for, else in the other one."""
        return self.articles.get(language, {}).get(topic) or next(
            (by_id[topic] for by_id in self.articles.values() if topic in by_id), None
        )

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.taxonomy if g.id == group_id), None)

    def search(self, text: str, language: str = "vi") -> Match:
        """The best topic for a question, with a confidence; None below the threshold.

        The question is searched in the articles of the language it is written in (a
        foreign worker typing English is understood before finding the language button);
        the answer is shown in the person's language."""
        small = self.vocabulary.smalltalk(text)
        if small:
            return Match(None, 0.0, (), small, language)
        index = self.indexes.get(self.written_in(text, language))
        tokens = self.vocabulary.tokens(text)  # expanded once for the search and the signals
        match = self._search(index, text, tokens) if index else Match(None, 0.0, (), None, language)
        signal = self.vocabulary.signal(tokens)
        if signal == "danger" and match.topic is not None:
            return replace(match, smalltalk=signal)
        if signal and match.topic is None:
            # A confident topic wins over politics: "đảng viên có được vào công đoàn không".
            return Match(None, 0.0, (), signal, match.language)
        return match

    def written_in(self, text: str, default: str) -> str:
        """'vi' for anything with Vietnamese diacritics; otherwise the language whose
        articles know more of the words; `default` when that does not decide."""
        if len(self.indexes) < 2:
            return next(iter(self.indexes), default)
        if has_diacritics(text):
            return "vi" if "vi" in self.indexes else default
        plain = words(text)
        known = {
            language: sum(1 for w in plain if index.knows(w))
            for language, index in self.indexes.items()
        }
        best = max(known.values())
        return default if known.get(default) == best else max(known, key=known.__getitem__)

    def theme(self, text: str, language: str) -> str:
        """The question's content words, folded, corrected and sorted: similar wordings of
        one question share it (the unanswered-question log groups by it)."""
        index = self.indexes.get(language) or next(iter(self.indexes.values()), None)
        if index is None:
            return ""
        stop = self.vocabulary.stop_folded  # plain, so that both spellings give one key
        return " ".join(sorted({w for w in index.query(text).words if w not in stop}))

    def _search(self, index: Index, text: str, tokens: Sequence[str]) -> Match:
        ranked = index.rank(text, tokens)
        if ranked is None:
            return Match(None, 0.0, (), None, index.language)
        confidence = confidence_of(ranked.evidence)
        suggestions = tuple(t for t in ranked.topics[:4] if t != OFFTOPIC)[:3]
        if ranked.topics[0] == OFFTOPIC:
            return Match(None, 0.0, suggestions, None, index.language)
        if confidence >= self.threshold:
            return Match(ranked.topics[0], confidence, suggestions[1:], None, index.language)
        return Match(None, confidence, suggestions, None, index.language)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the confidence is computed from, for the best topic of a question."""

    coverage: float  # share of the question's word weight that the topic contains
    margin: float  # (best - second) / best score
    score: float  # the best topic's score
    length: int  # words in the question


@dataclass(frozen=True, slots=True)
class Ranked:
    topics: tuple[str, ...]  # best first; only those within reach of the best
    evidence: Evidence


# A logistic model of "the best topic is right", fitted by bench/faq_calibrate.py on
# tests/services/faq_questions.yaml (our own questions, not the eval sets). Refit it when the
# articles change a lot. The threshold is then simply "more likely right than wrong".
CALIBRATION = {"bias": -8.01, "coverage": 1.97, "margin": 3.19, "score": 1.11, "length": 1.14}


def confidence_of(evidence: Evidence, weights: dict[str, float] = CALIBRATION) -> float:
    """0..1: the calibrated probability that the best topic is the right one."""
    z = (
        weights["bias"]
        + weights["coverage"] * evidence.coverage
        + weights["margin"] * evidence.margin
        + weights["score"] * math.log1p(evidence.score)
        + weights["length"] * math.log1p(evidence.length)
    )
    return round(1 / (1 + math.exp(-z)), 3)
