"""Training the FAQ matcher: the examples, cross-validation, model selection and the fit.

The examples are data (content/training/<language>/<topic id>.txt, one message per line,
out_of_scope.txt for messages the bot does not answer, unclear.txt for messages too general
for one topic), plus the articles' example questions
and titles, plus the lessons officers teach from the dashboard. The model's settings and its
decision thresholds are chosen by stratified k-fold cross-validation on those examples
(`select`) and kept in content/training/model.yaml; the public evaluation sets are never used.

scikit-learn is imported only inside the functions that fit: the bot's process loads a
trained model (bot/services/matcher.py) and fits in a child process (`build` and
`python -m bot.services.training`), so its memory never holds the library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from bot.services.matcher import (
    ANSWER,
    DECLINE,
    FORMAT,
    GROUPS,
    NOT_TOPICS,
    OUT_OF_SCOPE,
    Bag,
    Decision,
    Model,
    Params,
    Reader,
    decide_message,
    lexicon_of,
    question_part,
)
from bot.services.text import fold

if TYPE_CHECKING:
    from bot.services.knowledge import Article
    from bot.services.vocabulary import Vocabulary

FOLDS = 5
SEED = 20261204
# The settings tried by `select`; the thresholds are then searched finely on the held-out
# probabilities of the best.
GRID = (  # (kind, C): a logistic regression and a linear SVM at a few strengths
    ("logistic", 10.0),
    ("logistic", 30.0),
    ("svm", 0.3),
    ("svm", 1.0),
)
GRID_CHARS = ((2, 5), (3, 5))
GRID_SHARE = (0.0, 0.3, 0.5, 0.7, 1.0)
GRID_TEMPERATURE = tuple(round(0.05 * 1.25**i, 4) for i in range(25))  # 0.05 .. 10
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 17))
BUILD_TIMEOUT_S = 600
KEEP_OLD_MODELS_S = 24 * 3600  # a model no process has built or used for a day goes
LESSON_WEIGHT = 5.0


def prune(folder: Path, language: str, keep: Path, now: float | None = None) -> int:
    """Delete a language's older models from the cache (each lesson makes a new one); the one
    in use stays, and so do those written in the last day, which another process may be
    loading. Returns how many went."""
    now = time.time() if now is None else now
    gone = 0
    # (and files a process died writing)
    for path in [*folder.glob(f"faq-{language}-*.npz"), *folder.glob("*.tmp")]:
        try:
            if path != keep and now - path.stat().st_mtime > KEEP_OLD_MODELS_S:
                path.unlink()
                gone += 1
        except OSError:  # another process pruned it first
            continue
    return gone


def default_cache_dir() -> Path:
    """Where trained models are kept unless UNIONBOT_CACHE_DIR says: the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unionbot"


class TrainingError(ValueError):
    """The training examples are malformed; the message names the file."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str  # a topic id, OUT_OF_SCOPE or UNCLEAR
    weight: float = 1.0  # an officer's lesson weighs more: it corrects a real mistake


# ---------------------------------------------------------------------------- examples


def read_examples(
    content_dir: Path,
    language: str,
    articles: Iterable[Article],
    lessons: Iterable[Example] = (),
) -> list[Example]:
    """Every training example of a language: the training files, the articles' example
    questions and titles, then the lessons (a lesson overrides the same wording elsewhere)."""
    articles = list(articles)
    found = _files(content_dir, language, {article.id for article in articles})
    for article in articles:
        found.extend(Example(text, article.id) for text in (article.title, *article.questions))
    found.extend(replace(lesson, weight=LESSON_WEIGHT) for lesson in lessons)
    # One wording, one label: the last one wins (lessons come last).
    by_wording = {fold(example.text).strip(): example for example in found}
    return [example for key, example in by_wording.items() if key]


def _files(content_dir: Path, language: str, topics: set[str]) -> list[Example]:
    """The examples of content/training/<language>/*.txt, labelled by file name."""
    found: list[Example] = []
    folder = content_dir / "training" / language
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else ():
        label = path.stem
        if label not in NOT_TOPICS and label not in topics:
            raise TrainingError(
                f"{path}: '{label}' is not a topic id (nor {' or '.join(sorted(NOT_TOPICS))})"
            )
        found.extend(Example(line, label) for line in _lines(path))
    return found


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingError(f"{path}: cannot read: {exc}") from exc
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def conflicts(content_dir: Path, language: str, articles: Iterable[Article]) -> list[str]:
    """Wordings given two different labels in the content (for `content check`)."""
    articles = list(articles)
    seen: dict[str, Example] = {}
    problems = []
    labelled = [Example(q, a.id) for a in articles for q in (a.title, *a.questions)]
    for example in _files(content_dir, language, {a.id for a in articles}) + labelled:
        key = fold(example.text).strip()
        first = seen.setdefault(key, example)
        if first.label != example.label:
            problems.append(
                f"content/training/{language}: “{example.text}” is both {first.label} "
                f"and {example.label}"
            )
    return problems


def read_params(content_dir: Path) -> Params:
    """content/training/model.yaml, the settings `select` chose (defaults when absent)."""
    path = content_dir / "training" / "model.yaml"
    if not path.is_file():
        return Params()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Params.from_dict(data.get("params") or {})
    except (OSError, yaml.YAMLError, TypeError, ValueError) as exc:
        raise TrainingError(f"{path}: cannot read the model settings: {exc}") from exc


def fingerprint(examples: Sequence[Example], params: Params, vocabulary_path: Path) -> str:
    """What a trained model depends on: its examples, settings, vocabulary and format."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    digest.update(json.dumps(params.as_dict(), sort_keys=True).encode())
    digest.update(vocabulary_path.read_bytes() if vocabulary_path.is_file() else b"")
    for example in sorted(examples, key=lambda e: (e.label, e.text)):
        digest.update(f"\n{example.label}\t{example.weight}\t{example.text}".encode())
    return digest.hexdigest()[:24]


# ---------------------------------------------------------------------------- fitting


def fit(
    examples: Sequence[Example],
    vocabulary: Vocabulary,
    language: str,
    params: Params,
    fingerprint: str = "",
) -> Model:
    """Train the model on the examples (scikit-learn) and export it for serving."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    matrix, bags = _vectorize(examples, Reader(vocabulary, language, params.chars), params)
    if params.kind == "svm":
        model = LinearSVC(C=params.c)
    else:
        model = LogisticRegression(C=params.c, max_iter=3000)
    model.fit(
        matrix,
        [example.label for example in examples],
        sample_weight=np.array([example.weight for example in examples]),
    )
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # one score for the second class: the first scores 0
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return Model(
        classes=tuple(str(c) for c in model.classes_),
        bags=bags,
        coef=np.ascontiguousarray(coef.T, dtype=np.float32),
        intercept=np.asarray(intercept, dtype=np.float64),
        params=params,
        fingerprint=fingerprint,
        reader=Reader.build(vocabulary, language, params.chars, lexicon_of(bags)),
    )


def _vectorize(
    examples: Sequence[Example], reader: Reader, params: Params
) -> tuple[Any, dict[str, Bag]]:
    """The examples' tf-idf matrix (the three bags side by side) and each bag's columns."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    bags_of = [reader.features(example.text) for example in examples]
    matrices, bags, offset = [], {}, 0
    for name in GROUPS:
        vectorizer = TfidfVectorizer(
            analyzer=lambda bags, name=name: bags[name],
            sublinear_tf=True,
            min_df=params.min_df if name != "accented" else 1,
            dtype=np.float32,
        )
        try:
            matrices.append(vectorizer.fit_transform(bags_of))
            columns = {str(t): int(i) for t, i in vectorizer.vocabulary_.items()}
            idf = vectorizer.idf_.astype(np.float64)
        except ValueError:  # no term at all in this bag (English has no accented words)
            matrices.append(_empty(len(examples)))
            columns, idf = {}, np.zeros(0)
        bags[name] = Bag(columns, idf, offset)
        offset += len(columns)
    return hstack(matrices).tocsr(), bags


def _empty(rows: int) -> Any:
    from scipy.sparse import csr_matrix

    return csr_matrix((rows, 0), dtype=np.float32)


# ---------------------------------------------------------------------------- cross-validation


@dataclass(frozen=True)
class Heldout:
    """Each example's class probabilities from a model that never saw it."""

    examples: tuple[Example, ...]
    classes: tuple[str, ...]
    whole: np.ndarray  # (examples, classes)
    part: np.ndarray  # the question sentence's, for long messages; NaN rows otherwise

    def decisions(self, params: Params) -> list[Decision]:
        """Each example's decision as the served model would make it."""
        whole = _tempered(self.whole, params.temperature)
        part = _tempered(np.nan_to_num(self.part), params.temperature)
        long = ~np.isnan(self.part[:, 0])
        return [
            decide_message(whole[i], part[i] if long[i] else None, self.classes, params)
            for i in range(len(self.examples))
        ]

    def mixed(self, share: float, temperature: float = 1.0) -> np.ndarray:
        """The probabilities as served: tempered, and a long message's mixed with its
        question sentence's."""
        long = ~np.isnan(self.part[:, 0])
        out = _tempered(self.whole, temperature)
        part = _tempered(np.nan_to_num(self.part), temperature)
        out[long] = share * out[long] + (1 - share) * part[long]
        return out


def _tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / T) from softmax(z): p ** (1 / T), normalised."""
    raised = np.power(np.clip(probabilities, 1e-12, 1.0), 1.0 / temperature)
    normalised: np.ndarray = raised / raised.sum(axis=1, keepdims=True)
    return normalised


def heldout(
    examples: Sequence[Example],
    vocabulary: Vocabulary,
    language: str,
    params: Params,
    folds: int = FOLDS,
) -> Heldout:
    """Stratified k-fold: every example scored by the model fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    labels = [example.label for example in examples]
    classes = tuple(sorted(set(labels)))
    whole = np.zeros((len(examples), len(classes)))
    part = np.full((len(examples), len(classes)), np.nan)
    splits = min(folds, min(Counter(labels).values()))
    splitter = StratifiedKFold(n_splits=splits, shuffle=True, random_state=SEED)
    untempered = replace(params, temperature=1.0)  # `tune` chooses the temperature after
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        model = fit([examples[i] for i in train], vocabulary, language, untempered)
        order = [model.classes.index(c) if c in model.classes else -1 for c in classes]
        for i in test:
            whole[i] = _reorder(model.plain_probabilities(examples[i].text), order)
            question = question_part(examples[i].text)
            if question is not None:
                part[i] = _reorder(model.plain_probabilities(question), order)
    return Heldout(tuple(examples), classes, whole, part)


def _reorder(probabilities: np.ndarray, order: Sequence[int]) -> np.ndarray:
    return np.array([probabilities[j] if j >= 0 else 0.0 for j in order])


@dataclass(frozen=True)
class Report:
    """How the model does on held-out examples, as `content train` prints it."""

    params: Params
    accuracy: float  # right answers and right declines, of all examples
    in_scope: float  # in-scope examples answered with their topic
    declined: float  # out-of-scope and too general examples not answered
    top1: float  # the likeliest class is the label
    examples: int
    confusions: tuple[tuple[str, str, int], ...]  # (label, answered, times), most first

    def as_dict(self) -> dict[str, Any]:
        return {
            "cv_accuracy": self.accuracy,
            "cv_in_scope": self.in_scope,
            "cv_declined": self.declined,
            "cv_top1": self.top1,
            "examples": self.examples,
            "confusions": [list(c) for c in self.confusions[:15]],
        }


def report(held: Heldout, params: Params) -> Report:
    """Score the held-out probabilities with the decision rule of `params`."""
    probabilities = held.mixed(params.whole_share, params.temperature)
    right, in_scope, declined = [], [], []
    confusions: Counter[tuple[str, str]] = Counter()
    for example, decision in zip(held.examples, held.decisions(params), strict=True):
        if example.label in NOT_TOPICS:  # out of scope or too general: not to be answered
            ok = decision.outcome != ANSWER
            declined.append(ok)
        else:
            ok = decision.outcome == ANSWER and decision.topic == example.label
            in_scope.append(ok)
        right.append(ok)
        if not ok:
            confusions[(example.label, decision.topic or decision.outcome)] += 1
    best = probabilities.argmax(axis=1)
    top = [held.classes[int(i)] == e.label for e, i in zip(held.examples, best, strict=True)]
    return Report(
        params=params,
        accuracy=_share(right),
        in_scope=_share(in_scope),
        declined=_share(declined),
        top1=_share(top),
        examples=len(held.examples),
        confusions=tuple((a, b, n) for (a, b), n in confusions.most_common()),
    )


def _share(hits: Sequence[bool]) -> float:
    return round(sum(hits) / len(hits), 4) if hits else 0.0


def tune(held: Heldout, params: Params) -> Params:
    """The temperature, mixing share and thresholds that do best on the held-out
    probabilities.

    The temperature and the share: the likelihood of the right class (all examples; long
    ones). answer_at: in-scope answered right plus out-of-scope not answered, each as a
    share of its kind (so that neither kind's size decides). decline_at: out of scope
    declined outright, against in-scope messages left unanswered being declined instead of
    offered topics."""
    truth = np.array([held.classes.index(e.label) for e in held.examples])
    rows = np.arange(len(truth))

    def likelihood(probabilities: np.ndarray, chosen: np.ndarray) -> float:
        return float(np.log(probabilities[rows[chosen], truth[chosen]] + 1e-9).mean())

    everything = np.ones(len(truth), dtype=bool)
    temperature = max(GRID_TEMPERATURE, key=lambda t: likelihood(held.mixed(1.0, t), everything))
    params = replace(params, temperature=temperature)
    long = ~np.isnan(held.part[:, 0])
    if long.any():
        share = max(GRID_SHARE, key=lambda w: likelihood(held.mixed(w, temperature), long))
        params = replace(params, whole_share=share)
    best = max(
        THRESHOLDS,
        key=lambda t: _balanced(report(held, replace(params, answer_at=t, decline_at=1.0))),
    )
    params = replace(params, answer_at=best)
    decline = max(THRESHOLDS, key=lambda t: _decline_quality(held, replace(params, decline_at=t)))
    return replace(params, decline_at=decline)


def _balanced(result: Report) -> float:
    return result.in_scope + result.declined


def _decline_quality(held: Heldout, params: Params) -> float:
    outside, inside = [], []
    for example, decision in zip(held.examples, held.decisions(params), strict=True):
        if example.label == OUT_OF_SCOPE:
            outside.append(decision.outcome == DECLINE)
        elif decision.outcome != ANSWER:  # in scope or too general: offer topics instead
            inside.append(decision.outcome != DECLINE)
    return _share(outside) + _share(inside)


def select(
    examples: Sequence[Example],
    vocabulary: Vocabulary,
    language: str,
    log: Any = None,
) -> Report:
    """Try the grid of settings by cross-validation; the best, with its tuned thresholds."""
    best: Report | None = None
    for kind, c in GRID:
        for chars in GRID_CHARS:
            params = Params(kind=kind, c=c, chars=chars)
            held = heldout(examples, vocabulary, language, params)
            result = report(held, tune(held, params))
            if log is not None:
                log(json.dumps({**result.params.as_dict(), "cv_accuracy": result.accuracy}))
            if best is None or result.accuracy > best.accuracy:
                best = result
    assert best is not None
    return best


def write_params(content_dir: Path, result: Report, language: str) -> Path:
    """Keep the chosen settings, with the report that chose them, in model.yaml."""
    path = content_dir / "training" / "model.yaml"
    head = (
        "# The FAQ matcher's settings, chosen by `unionbot content train --select` by\n"
        f"# {FOLDS}-fold cross-validation on the {language} training examples. Do not tune\n"
        "# them by hand: add examples and select again.\n"
    )
    body = {"params": result.params.as_dict(), "cross_validation": result.as_dict()}
    path.write_text(head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), "utf-8")
    return path


# ---------------------------------------------------------------------------- building


def build(
    examples: Sequence[Example], language: str, content_dir: Path, out: Path, params: Params
) -> None:
    """Fit in a child process, which writes the model to `out` (atomically)."""
    argv, examples_file = command(examples, language, content_dir, out, params)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                              env=child_env())  # fmt: skip
    finally:
        examples_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise TrainingError(f"training the {language} matcher failed: {done.stderr[-2000:]}")


def command(
    examples: Sequence[Example], language: str, content_dir: Path, out: Path, params: Params
) -> tuple[list[str], Path]:
    """The child process's command line and its examples file, for `asyncio` callers."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump([[e.text, e.label, e.weight] for e in examples], f, ensure_ascii=False)
    return [sys.executable, "-m", "bot.services.training", "--content", str(content_dir),
            "--language", language, "--examples", f.name, "--out", str(out),
            "--params", json.dumps(params.as_dict())], Path(f.name)  # fmt: skip


def child_env() -> dict[str, str]:
    """The child imports this package from where the parent did."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{existing}" if existing else root}


def main(argv: Sequence[str] | None = None) -> int:
    """The child process: fit the given examples and save the model."""
    from bot.services.vocabulary import Vocabulary

    parser = argparse.ArgumentParser(description="fit the FAQ matcher (run by the bot)")
    parser.add_argument("--content", type=Path, required=True)
    parser.add_argument("--language", required=True)
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--params", required=True)
    args = parser.parse_args(argv)
    rows = json.loads(args.examples.read_text(encoding="utf-8"))
    examples = [Example(str(text), str(label), float(weight)) for text, label, weight in rows]
    params = Params.from_dict(json.loads(args.params))
    vocabulary_path = args.content / "vocabulary.yaml"
    vocabulary = Vocabulary.load(vocabulary_path)
    marks = fingerprint(examples, params, vocabulary_path)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fit(examples, vocabulary, args.language, params, marks).save(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
