"""Refit the FAQ search's confidence model (CALIBRATION in bot/services/knowledge.py).

    python bench/faq_calibrate.py [QUESTIONS_YAML]

The confidence is a logistic model of "the best topic is the right one" over the evidence
the search reports (coverage, margin, score, length). This fits it on our own labelled
questions (tests/services/faq_questions.yaml: in-scope questions with their topic, and
out-of-scope and too-vague messages that should not be answered), never on
../shared/eval, and prints the weights as one JSON line.
Paste them into CALIBRATION when the articles have changed a lot, then run bench/faq.py.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import CONTENT_DIR  # noqa: E402
from bot.services.knowledge import OFFTOPIC, Evidence, Knowledge  # noqa: E402

FEATURES = ("coverage", "margin", "score", "length")
STEPS, RATE, RIDGE = 20000, 0.05, 0.001


def features(evidence: Evidence) -> list[float]:
    return [
        1.0,
        evidence.coverage,
        evidence.margin,
        math.log1p(evidence.score),
        math.log1p(evidence.length),
    ]


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/services/faq_questions.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    index = Knowledge.load(CONTENT_DIR).indexes["vi"]
    rows = [(row["q"], row["topic"]) for row in data["in_scope"]]
    rows += [(row["q"], None) for row in data["out_of_scope"] + data.get("ambiguous", [])]
    samples: list[tuple[list[float], float]] = []
    for text, topic in rows:
        ranked = index.rank(text)
        if ranked is None or ranked.topics[0] == OFFTOPIC:
            continue  # declined before the confidence is asked
        samples.append((features(ranked.evidence), float(ranked.topics[0] == topic)))
    weights = [0.0] * 5
    for _ in range(STEPS):
        gradient = [0.0] * 5
        for x, y in samples:
            p = 1 / (1 + math.exp(-sum(w * v for w, v in zip(weights, x, strict=True))))
            for i, v in enumerate(x):
                gradient[i] += (p - y) * v / len(samples)
        weights = [w - RATE * (g + RIDGE * w) for w, g in zip(weights, gradient, strict=True)]
    fitted = {"bias": round(weights[0], 2)}
    fitted |= {name: round(w, 2) for name, w in zip(FEATURES, weights[1:], strict=True)}
    print(json.dumps(fitted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
