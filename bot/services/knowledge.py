"""The knowledge base: FAQ articles from content/faq and the search that finds the right one
the way workers actually type (no diacritics, wrong Unicode form, shorthand, typos).

Everything is compared in a folded form: NFD, combining marks dropped, đ → d, lower case.
That makes NFC/NFD and old/new tone placement (hoá/hóa) the same word. Shorthand and phrases
from content/vocabulary.yaml are expanded. The search itself is a trained matcher
(bot/services/matcher.py, trained by bot/services/training.py on content/training and the
articles' example questions): it answers, offers 2-3 topics when unsure, or declines a
message that is not about work or the union.

Some messages need a reply of their own, found from the vocabulary's phrase lists: short ones
that are only a greeting, thanks, emoji or "who are you?", and, anywhere in a message, a
threat to the person's safety or a political question (the latter only when no topic is
confident).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import yaml

from bot.services import training
from bot.services.matcher import ANSWER, DECLINE, Model, Params
from bot.services.text import has_diacritics, words
from bot.services.training import Example
from bot.services.vocabulary import ContentError, Vocabulary

try:  # libyaml parses the articles several times faster; the pure-Python loader also works
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

_T = TypeVar("_T")
log = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")
NEXT_STEPS = ("ask", "report", "join", "support")
SOON_DAYS = 45
MIN_QUESTIONS = 8
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
    for language, by_id in articles.items():
        try:  # the matcher's examples: files of real topics, no wording under two labels
            problems.extend(training.conflicts(content_dir, language, by_id.values()))
        except training.TrainingError as exc:
            problems.append(str(exc))
    every = [a for by_id in articles.values() for a in by_id.values()]
    return ContentReport(
        problems=tuple(problems),
        stale=tuple(a for a in every if a.is_stale(today)),
        soon_stale=tuple(a for a in every if a.is_soon_stale(today, soon_days)),
    )


# ---------------------------------------------------------------------------- searching


@dataclass(frozen=True, slots=True)
class Match:
    """What the search found: a topic to answer with, or None with suggestions (unsure), or
    None and `declined` (out of scope: not about work or the union)."""

    topic: str | None
    confidence: float
    suggestions: tuple[str, ...] = ()
    # Not a question for the articles: "greeting", "thanks", "emoji", "identity" (who answers
    # here?), "politics", "danger" (a threat to the person's safety; the only one that may
    # come with a topic, whose answer then follows the safety advice).
    smalltalk: str | None = None
    language: str = "vi"  # the articles' language the match came from
    declined: bool = False


@dataclass(frozen=True)
class Knowledge:
    """Articles, taxonomy and the trained matchers of both languages. A matcher is replaced
    whole when officers' lessons retrain it (`learn`): a search sees the old or the new."""

    taxonomy: tuple[Group, ...]
    articles: dict[str, dict[str, Article]]
    vocabulary: Vocabulary
    matchers: dict[str, Model] = field(repr=False)
    content_dir: Path = field(default=Path("content"), repr=False)
    cache_dir: Path | None = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        content_dir: Path,
        cache_dir: Path | None = None,
        lessons: Mapping[str, Sequence[Example]] | None = None,
    ) -> Knowledge:
        """Read content/ and load (or train, once per change of the examples) the matchers;
        ContentError when an article is malformed."""
        taxonomy = load_taxonomy(content_dir / "taxonomy.yaml")
        articles, problems = load_articles(content_dir, taxonomy)
        invalid = [p for p in problems if not p.endswith(": missing")]
        if invalid:
            raise ContentError(invalid[0])
        vocabulary = Vocabulary.load(content_dir / "vocabulary.yaml")
        knowledge = cls(taxonomy, articles, vocabulary, {}, content_dir, cache_dir)
        for language in (language for language, by_id in articles.items() if by_id):
            spec = knowledge.model_spec(language, (lessons or {}).get(language, ()))
            if not spec.path.is_file():
                log.info("training the %s FAQ matcher (once per change of its examples)", language)
                try:
                    training.build(spec.examples, language, content_dir, spec.path, spec.params)
                except training.TrainingError as exc:
                    raise ContentError(str(exc)) from exc
            knowledge.matchers[language] = Model.load(spec.path, vocabulary)
            training.prune(spec.path.parent, language, keep=spec.path)
        return knowledge

    def model_spec(self, language: str, lessons: Sequence[Example] = ()) -> ModelSpec:
        """What the matcher of a language is trained on, and where its model is kept."""
        articles = self.articles.get(language, {}).values()
        return model_spec(self.content_dir, self.cache_dir, language, articles, lessons)

    def learn(self, language: str, model: Model) -> None:
        """Swap in a matcher retrained with officers' lessons."""
        self.matchers[language] = model

    def article(self, topic: str, language: str) -> Article | None:
        """The article in the language asked for, else in the other one."""
        return self.articles.get(language, {}).get(topic) or next(
            (by_id[topic] for by_id in self.articles.values() if topic in by_id), None
        )

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.taxonomy if g.id == group_id), None)

    def search(self, text: str, language: str = "vi") -> Match:
        """The best topic for a question, or why there is none.

        The question is searched in the articles of the language it is written in (a
        foreign worker typing English is understood before finding the language button);
        the answer is shown in the person's language."""
        small = self.vocabulary.smalltalk(text)
        if small:
            return Match(None, 0.0, (), small, language)
        written = self.written_in(text, language)
        model = self.matchers.get(written)
        match = (
            self._search(model, text, written) if model else Match(None, 0.0, (), None, language)
        )
        signal = self.vocabulary.signal(self.vocabulary.tokens(text))
        if signal == "danger" and match.topic is not None:
            return replace(match, smalltalk=signal)
        if signal and match.topic is None:
            # A confident topic wins over politics: "đảng viên có được vào công đoàn không".
            return Match(None, 0.0, (), signal, match.language)
        return match

    def written_in(self, text: str, default: str) -> str:
        """'vi' for anything with Vietnamese diacritics; otherwise the language whose
        matcher knows more of the words; `default` when that does not decide."""
        if len(self.matchers) < 2:
            return next(iter(self.matchers), default)
        if has_diacritics(text):
            return "vi" if "vi" in self.matchers else default
        plain = words(text)
        known = {
            language: sum(1 for w in plain if model.knows(w))
            for language, model in self.matchers.items()
        }
        best = max(known.values())
        return default if known.get(default) == best else max(known, key=known.__getitem__)

    def theme(self, text: str, language: str) -> str:
        """The question's content words, folded, corrected and sorted: similar wordings of
        one question share it (the unanswered-question log groups by it)."""
        model = self.matchers.get(language) or next(iter(self.matchers.values()), None)
        if model is None:
            return ""
        reader = model.reader
        stop = self.vocabulary.stop_folded  # plain, so that both spellings give one key
        found = reader.folded(reader.tokens(text))
        return " ".join(sorted({w for w in found if w not in stop}))

    @staticmethod
    def _search(model: Model, text: str, language: str) -> Match:
        decision = model.decide(text)
        if decision.outcome == ANSWER:
            return Match(decision.topic, decision.confidence, decision.suggestions, None, language)
        declined = decision.outcome == DECLINE
        return Match(None, decision.confidence, decision.suggestions, None, language, declined)


def model_spec(
    content_dir: Path,
    cache_dir: Path | None,
    language: str,
    articles: Iterable[Article],
    lessons: Sequence[Example] = (),
) -> ModelSpec:
    """A language's training examples and settings, and the cache file of their model."""
    try:
        params = training.read_params(content_dir)
        examples = training.read_examples(content_dir, language, articles, lessons)
    except training.TrainingError as exc:
        raise ContentError(str(exc)) from exc
    marks = training.fingerprint(examples, params, content_dir / "vocabulary.yaml")
    folder = cache_dir or training.default_cache_dir()
    return ModelSpec(tuple(examples), params, folder / f"faq-{language}-{marks}.npz", marks)


@dataclass(frozen=True)
class ModelSpec:
    """A matcher to load or train: its examples, settings and cache file."""

    examples: tuple[Example, ...]
    params: Params
    path: Path
    fingerprint: str
