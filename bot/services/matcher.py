"""The FAQ matcher: a linear model trained on content/training (bot/services/training.py),
served here with numpy alone so that the bot's process never loads scikit-learn.

A message becomes three bags of features, the same in training and serving (`Reader`):
folded words and word pairs (Vietnamese words are mostly two syllables, so pairs carry the
meaning), the words typed with diacritics as typed ("mưa" is not "mua"), and character
n-grams of the folded words (typos, teencode spellings, glued words). Each bag is weighted
tf-idf and normalised; a linear model (a logistic regression or a linear SVM, whichever
cross-validation prefers) scores every topic and the two other classes, out of scope and
too general, and a softmax with a fitted temperature makes the scores probabilities.
`decide` turns those into one of three outcomes: answer, unsure (the likeliest topics to
choose from) or out of scope. Its thresholds, like the model's settings, are chosen by
cross-validation on the training examples, never by hand.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.services.text import deletes, deletion_index, fold_word, one_edit

if TYPE_CHECKING:
    from bot.services.vocabulary import Vocabulary

OUT_OF_SCOPE = "out_of_scope"  # the class of messages the bot does not answer
UNCLEAR = "unclear"  # the class of messages too general for one topic ("bảo hiểm", "lương")
NOT_TOPICS = frozenset({OUT_OF_SCOPE, UNCLEAR})
ANSWER, UNSURE, DECLINE = "answer", "unsure", "out_of_scope"
GROUPS = ("words", "accented", "chars")
FORMAT = 1  # bump when the features change: cached models of an older format are rebuilt
MAX_SUGGESTIONS = 3
SUGGEST_SHARE = 0.15  # with an answer, related topics at least this share as likely
# A long message whose question is one of its sentences: the words that make a sentence a
# question when it has no question mark (folded).
_CUES = "khong chua gi sao nao dau ai may bao hoi the nhu lam phai duoc what how when where why"
_QUESTION_CUES = frozenset([*_CUES.split(), "who", "which", "can", "could", "is", "are", "do"])
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
LONG_WORDS = 14  # shorter messages are one question; longer ones are looked into
BARE_WORDS = 1  # a question sentence with no more content words asks about the one before


@dataclass(frozen=True, slots=True)
class Params:
    """The model's settings, chosen by cross-validation (content/training/model.yaml)."""

    kind: str = "logistic"  # or "svm": a linear SVM, its scores through a softmax
    c: float = 10.0
    temperature: float = 1.0  # scores are divided by it before the softmax (calibration)
    chars: tuple[int, int] = (2, 5)
    min_df: int = 1
    answer_at: float = 0.4  # the top topic's probability needed to answer
    decline_at: float = 0.5  # out of scope's probability needed to decline outright
    whole_share: float = 0.5  # a long message: the whole's share against its question part

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "c": self.c,
            "temperature": self.temperature,
            "chars": list(self.chars),
            "min_df": self.min_df,
            "answer_at": self.answer_at,
            "decline_at": self.decline_at,
            "whole_share": self.whole_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        known = cls().as_dict()
        values = {key: data.get(key, default) for key, default in known.items()}
        low, high = (int(n) for n in values["chars"])
        return cls(
            kind=str(values["kind"]),
            c=float(values["c"]),
            temperature=float(values["temperature"]),
            chars=(low, high),
            min_df=int(values["min_df"]),
            answer_at=float(values["answer_at"]),
            decline_at=float(values["decline_at"]),
            whole_share=float(values["whole_share"]),
        )


def stem_en(word: str) -> str:
    """A crude English stemmer: plurals and -ing/-ed, enough to match 'wages' to 'wage'."""
    for suffix, keep in (("ies", 4), ("ing", 5), ("ed", 4), ("es", 4), ("s", 3)):
        if word.endswith(suffix) and len(word) > keep and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@dataclass(frozen=True)
class Reader:
    """Turns a message into its feature bags; training and serving share it. With a lexicon
    (the words the model was trained on) unknown words are corrected to one edit away."""

    vocabulary: Vocabulary
    language: str
    chars: tuple[int, int]
    lexicon: frozenset[str] = frozenset()
    _deletes: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, vocabulary: Vocabulary, language: str, chars: tuple[int, int], lexicon: Iterable[str]
    ) -> Reader:
        known = frozenset(lexicon)
        return cls(
            vocabulary, language, chars, known, deletion_index(w for w in known if len(w) >= 4)
        )

    def tokens(self, text: str) -> list[str]:
        """Accent keys, shorthand and phrases expanded (stemmed in English)."""
        tokens = self.vocabulary.tokens(text)
        if self.language == "en":
            return [stem_en(fold_word(t)) for t in tokens]
        return tokens

    def folded(self, tokens: Sequence[str]) -> list[str]:
        """The folded words, each unknown one corrected when the lexicon knows a near word."""
        out: list[str] = []
        for token in tokens:
            plain = fold_word(token)
            if not self.lexicon or plain in self.lexicon or plain.isdigit():
                out.append(plain)
            else:
                out.extend(self.correct(plain) or [plain])
        return out

    def correct(self, word: str) -> list[str] | None:
        """The known word one edit away (the alphabetically first of equals), or two glued
        known words split."""
        if len(word) >= 4:
            squeezed = re.sub(r"(.)\1+", r"\1", word)  # "nhieeeu"
            if squeezed in self.lexicon:
                return [squeezed]
            candidates = {c for d in deletes(word) for c in self._deletes.get(d, ())}
            candidates |= set(self._deletes.get(word, ()))
            near = sorted(c for c in candidates if one_edit(word, c))
            if near:
                return [near[0]]
        if len(word) >= 5:
            for cut in range(2, len(word) - 1):
                if word[:cut] in self.lexicon and word[cut:] in self.lexicon:
                    return [word[:cut], word[cut:]]
        return None

    def features(self, text: str) -> dict[str, list[str]]:
        """The three bags of a message (GROUPS)."""
        tokens = self.tokens(text)
        folded = self.folded(tokens)
        words = folded + [f"{a} {b}" for a, b in pairwise(folded)]
        typed = [t for t in tokens if t != fold_word(t)]
        low, high = self.chars
        chars: list[str] = []
        for word in folded:
            padded = f" {word} "
            for size in range(low, high + 1):
                chars.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
        return {"words": words, "accented": typed, "chars": chars}


def question_part(text: str, stop: frozenset[str] = frozenset()) -> str | None:
    """In a long message, the sentence that asks: the last one with a question mark, else
    the last with a question word. None for a short message or one sentence.

    A bare question ("Em nên làm gì?", "Bấm vào đâu?": at most one word that is not in
    `stop`, the folded stopwords, or a question word) asks about what was said before it:
    alone it reads as small talk, so it is taken with the sentence before it."""
    if len(text.split()) < LONG_WORDS:
        return None
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) < 2:
        return None
    asking = [i for i, s in enumerate(sentences) if "?" in s]
    if not asking:
        asking = [i for i, s in enumerate(sentences) if _QUESTION_CUES & set(fold_word(s).split())]
    if not asking:
        return None
    last = asking[-1]
    said = [w for w in re.findall(r"\w+", fold_word(sentences[last])) if w not in stop]
    if last > 0 and len([w for w in said if w not in _QUESTION_CUES]) <= BARE_WORDS:
        return f"{sentences[last - 1]} {sentences[last]}"
    return sentences[last]


@dataclass(frozen=True, slots=True)
class Bag:
    """One feature group of a trained model: its terms' columns and idf weights."""

    columns: dict[str, int]
    idf: np.ndarray
    offset: int


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # ANSWER, UNSURE or DECLINE
    topic: str | None
    confidence: float
    suggestions: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    """A trained matcher: classes, feature columns, weights and decision thresholds."""

    classes: tuple[str, ...]
    bags: dict[str, Bag]
    coef: np.ndarray  # (features, classes), float32
    intercept: np.ndarray
    params: Params
    fingerprint: str
    reader: Reader

    # -- scoring

    def probabilities(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Each class's probability for a message, and for a long one's question sentence."""
        part = question_part(text, self.reader.vocabulary.stop_folded)
        asked = None if part is None else self.plain_probabilities(part)
        return self.plain_probabilities(text), asked

    def plain_probabilities(self, text: str) -> np.ndarray:
        """Each class's probability for the text as one piece."""
        z = self.intercept.astype(np.float64)
        for name, terms in self.reader.features(text).items():
            bag = self.bags[name]
            counts = Counter(bag.columns[t] for t in terms if t in bag.columns)
            if not counts:
                continue
            columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter((1 + math.log(n) for n in counts.values()), np.float64, len(counts))
            weights = tf * bag.idf[columns]
            weights /= np.linalg.norm(weights)
            z += weights @ self.coef[bag.offset + columns]
        z /= self.params.temperature
        z -= z.max()
        exp = np.exp(z)
        probabilities: np.ndarray = exp / exp.sum()
        return probabilities

    def decide(self, text: str) -> Decision:
        return decide_message(*self.probabilities(text), self.classes, self.params)

    def knows(self, word: str) -> bool:
        """Whether the model was trained on this folded word (stemmed as its language is)."""
        return (stem_en(word) if self.reader.language == "en" else word) in self.reader.lexicon

    # -- storing

    def save(self, path: Path) -> None:
        """One .npz file, no pickles: it can be loaded without trusting its writer."""
        arrays: dict[str, np.ndarray] = {
            "coef": self.coef,
            "intercept": self.intercept,
            "classes": np.array(self.classes),
            "meta": np.array(
                json.dumps(
                    {
                        "params": self.params.as_dict(),
                        "fingerprint": self.fingerprint,
                        "format": FORMAT,
                        "language": self.reader.language,
                    }
                )
            ),
        }
        for name, bag in self.bags.items():
            ordered = sorted(bag.columns, key=bag.columns.__getitem__)
            arrays[f"terms_{name}"] = np.array(ordered if ordered else [""])
            arrays[f"idf_{name}"] = bag.idf
            arrays[f"offset_{name}"] = np.array(bag.offset)
        # A file of its own (two processes may train the same model at once), then renamed:
        # atomic, so another process never reads half a model.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as out:
            # numpy's stubs read **arrays as its allow_pickle flag; the arrays are keywords
            np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
        Path(out.name).replace(path)

    @classmethod
    def load(cls, path: Path, vocabulary: Vocabulary) -> Model:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}: a model of format {meta.get('format')}, not {FORMAT}")
            params = Params.from_dict(meta["params"])
            bags = {}
            for name in GROUPS:
                idf = data[f"idf_{name}"].astype(np.float64)
                terms = [str(t) for t in data[f"terms_{name}"][: len(idf)]]
                columns = {term: i for i, term in enumerate(terms)}
                bags[name] = Bag(columns, idf, int(data[f"offset_{name}"]))
            return cls(
                classes=tuple(str(c) for c in data["classes"]),
                bags=bags,
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"].astype(np.float64),
                params=params,
                fingerprint=str(meta["fingerprint"]),
                reader=Reader.build(
                    vocabulary, str(meta["language"]), params.chars, lexicon_of(bags)
                ),
            )


def lexicon_of(bags: dict[str, Bag]) -> list[str]:
    """The words a model was trained on: its single-word terms, numbers aside."""
    return [t for t in bags["words"].columns if " " not in t and not t.isdigit()]


def decide_message(
    whole: np.ndarray, asked: np.ndarray | None, classes: Sequence[str], params: Params
) -> Decision:
    """The decision on a message from its probabilities (`whole`) and, for a long one, its
    question sentence's (`asked`). A story about work followed by a question that is
    clearly not ("I work nights at a hotel in Lâm Viên… which coach to Nha Trang is
    cheapest?") is declined on the question: the work words of the story must not pull
    it to a topic. Otherwise the two are mixed by the cross-validated share."""
    if asked is None:
        return decide(whole, classes, params)
    question = decide(asked, classes, params)
    if question.outcome == DECLINE:
        return question
    share = params.whole_share
    return decide(share * whole + (1 - share) * asked, classes, params)


def decide(probabilities: np.ndarray, classes: Sequence[str], params: Params) -> Decision:
    """Answer, unsure or out of scope, from the classes' probabilities.

    Out of scope when that class is the likeliest and clearly so (decline_at); an answer when
    a topic is the likeliest and likely enough (answer_at); otherwise, or when the message
    is likeliest too general ("unclear"), unsure: the likeliest topics are offered."""
    order = [int(i) for i in np.argsort(-probabilities)]
    top = classes[order[0]]
    best = float(probabilities[order[0]])
    topics = [i for i in order if classes[i] not in NOT_TOPICS]
    first = float(probabilities[topics[0]]) if topics else 0.0
    near = tuple(
        classes[i] for i in topics[:MAX_SUGGESTIONS] if probabilities[i] >= first * SUGGEST_SHARE
    )
    if top == OUT_OF_SCOPE and (best >= params.decline_at or not near):
        return Decision(DECLINE, None, round(best, 3), ())
    if top not in NOT_TOPICS and best >= params.answer_at:
        return Decision(ANSWER, top, round(best, 3), near[1:])
    # Unsure: always a choice of the likeliest few, however unlikely the later ones.
    offered = tuple(classes[i] for i in topics[:MAX_SUGGESTIONS])
    return Decision(UNSURE, None, round(first, 3), offered)
