"""FAQ search quality and speed, against a plain BM25 baseline.

    python bench/faq.py [DEV_FILE] [REAL_FILE] [--heldout FILE] [--misses]

DEV_FILE defaults to ../shared/eval/faq_dev.jsonl (lines {"q", "topic" or null, "style"}),
REAL_FILE to ../shared/eval/faq_real_zalo2021.jsonl (lines {"q", "topics": [...]}, any one
counts). Every question goes through Knowledge.search, the call the bot's FAQ handler makes.
A question counts as answered right only when the returned topic (None below the confidence
threshold) equals its label, and an out-of-scope line counts as declined only when the topic
is None. The baseline is rank-bm25's BM25Okapi over lower-cased NFC word tokens, one document
per Vietnamese article (title, example questions, body), always taking its top topic.
"cv_accuracy" is the matcher's 5-fold cross-validated accuracy on its own training examples
(right answers and right declines), "model_build_s" the time one fit of the model takes,
"build_s" the time Knowledge.load took (a cached model is only loaded), "rss_mb" the
process's resident memory after loading and "rss_added_mb" what loading added to it.
"heldout_by_style", "heldout_oos_rejection" and "heldout_baseline_by_style" are the same
scores on bench/faq_heldout.jsonl (--heldout), questions written independently of the
training examples (see HELDOUT below).
Prints one JSON line:
{"bench": "faq", "accuracy", "by_style": {...}, "oos_rejection", "real_accuracy",
 "baseline_accuracy", "baseline_by_style": {...}, "p50_ms", "p99_ms", "build_s", "rss_mb",
 "rss_added_mb", "heldout_by_style": {...}, "heldout_oos_rejection",
 "heldout_baseline_by_style": {...}, "cv_accuracy", "model_build_s"}
--misses also writes each wrong answer to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import CONTENT_DIR  # noqa: E402
from bot.services import training  # noqa: E402
from bot.services.knowledge import Article, Knowledge  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
# Our own held-out questions, written for this bench by people who saw only the topic scopes
# and the answers, never the training examples: an estimate of how the matcher does on
# questions nobody fitted it to. Never train on them or fit anything to their misses
# (tests/services/test_matcher.py refuses a training example that repeats one).
HELDOUT = ROOT / "bench" / "faq_heldout.jsonl"
STYLES = ("accented", "unaccented", "teencode")
TIMING_ROUNDS = 5


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def current_rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def share(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 3) if hits else None


def nfc_tokens(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFC", text.lower()))


def baseline(articles: dict[str, Article]):
    """BM25 over raw accented tokens: the number the project's search must beat."""
    from rank_bm25 import BM25Okapi

    ids = list(articles)
    corpus = [
        nfc_tokens(" ".join([a.title, *a.questions, a.body])) for a in (articles[i] for i in ids)
    ]
    model = BM25Okapi(corpus)

    def top(question: str) -> str:
        scores = model.get_scores(nfc_tokens(question))
        return ids[max(range(len(ids)), key=lambda i: scores[i])]

    return top


def score(
    knowledge: Knowledge, rows: list[dict], misses: str | None
) -> tuple[dict[str, list[bool]], list[bool]]:
    """Right answers by style and right declines; each wrong answer to stderr under `misses`."""
    by_style: dict[str, list[bool]] = defaultdict(list)
    declined: list[bool] = []
    for row in rows:
        match = knowledge.search(row["q"], "vi")
        if row["topic"] is None:
            declined.append(match.topic is None)
        else:
            by_style[row.get("style", "accented")].append(match.topic == row["topic"])
        if misses and match.topic != row["topic"]:
            print(
                f"{misses} {row.get('style')}: want {row['topic']} got {match.topic} "
                f"({match.confidence}; {','.join(match.suggestions)}) {row['q']}",
                file=sys.stderr,
            )
    return by_style, declined


def baseline_hits(top, rows: list[dict]) -> dict[str, list[bool]]:
    """The BM25 baseline's right answers by style (in-scope questions only)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        if row["topic"] is not None:
            hits[row.get("style", "accented")].append(top(row["q"]) == row["topic"])
    return hits


def cross_validate(knowledge: Knowledge, folds: int) -> tuple[float, float]:
    """The Vietnamese matcher's cross-validated accuracy, and one fit's time (scikit-learn is
    imported only in the function that fits, after the memory was measured)."""
    spec = knowledge.model_spec("vi")
    held = training.heldout(spec.examples, knowledge.vocabulary, "vi", spec.params, folds)
    started = time.perf_counter()
    training.fit(spec.examples, knowledge.vocabulary, "vi", spec.params)
    return training.report(held, spec.params).accuracy, round(time.perf_counter() - started, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", nargs="?", type=Path, default=EVAL / "faq_dev.jsonl")
    parser.add_argument("real", nargs="?", type=Path, default=EVAL / "faq_real_zalo2021.jsonl")
    parser.add_argument("--heldout", type=Path, default=HELDOUT, help="our own held-out set")
    parser.add_argument("--content", type=Path, default=CONTENT_DIR)
    parser.add_argument("--misses", action="store_true", help="list wrong answers on stderr")
    parser.add_argument("--cv-folds", type=int, default=training.FOLDS, help="cross-validation")
    args = parser.parse_args()

    dev, real, heldout = read_jsonl(args.dev), read_jsonl(args.real), read_jsonl(args.heldout)
    rss_before = current_rss_mb()
    started = time.perf_counter()
    knowledge = Knowledge.load(args.content)
    build_s = time.perf_counter() - started
    rss_mb = current_rss_mb()

    by_style, declined = score(knowledge, dev, "MISS" if args.misses else None)
    held_style, held_declined = score(knowledge, heldout, "HELD-OUT MISS" if args.misses else None)
    real_hits = []
    for row in real:
        match = knowledge.search(row["q"], "vi")
        real_hits.append(match.topic in row["topics"])
        if args.misses and match.topic not in row["topics"]:
            print(f"REAL MISS: want {row['topics']} got {match.topic} ({match.confidence}) "
                  f"{row['q']}", file=sys.stderr)  # fmt: skip

    timings = []
    for _ in range(TIMING_ROUNDS):
        for row in dev + real:
            t0 = time.perf_counter_ns()
            knowledge.search(row["q"], "vi")
            timings.append((time.perf_counter_ns() - t0) / 1e6)
    timings.sort()

    top = baseline(knowledge.articles["vi"])
    baseline_style = baseline_hits(top, dev)
    held_baseline = baseline_hits(top, heldout)

    cv_accuracy, model_build_s = cross_validate(knowledge, args.cv_folds)
    in_scope = [hit for hits in by_style.values() for hit in hits]
    baseline_all = [hit for hits in baseline_style.values() for hit in hits]
    print(
        json.dumps(
            {
                "bench": "faq",
                "accuracy": share(in_scope),
                "by_style": {style: share(by_style[style]) for style in STYLES},
                "oos_rejection": share(declined),
                "real_accuracy": share(real_hits),
                "baseline_accuracy": share(baseline_all),
                "baseline_by_style": {style: share(baseline_style[style]) for style in STYLES},
                "p50_ms": round(statistics.median(timings), 3),
                "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
                "build_s": round(build_s, 3),
                "rss_mb": round(rss_mb, 1),
                "rss_added_mb": round(rss_mb - rss_before, 1),
                "heldout_by_style": {style: share(held_style[style]) for style in STYLES},
                "heldout_oos_rejection": share(held_declined),
                "heldout_baseline_by_style": {
                    style: share(held_baseline[style]) for style in STYLES
                },
                "cv_accuracy": cv_accuracy,
                "model_build_s": model_build_s,
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
