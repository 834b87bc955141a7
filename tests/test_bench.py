"""The benchmark still runs (on a tiny load); its numbers are read in bench runs, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"bench", "db", "rate", "baseline_rate", "ratio", "p50_ms", "p99_ms", "peak_rss_mb"}


def test_e2e_bench_prints_one_line_per_database():
    result = subprocess.run(
        [sys.executable, "bench/e2e.py", "--workers", "4", "--seconds", "0.5", "--warmup", "0.2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["db"] for line in lines] == ["sqlite", "postgresql"]
    for line in lines:
        assert set(line) == KEYS
        assert line["bench"] == "e2e"
        assert line["rate"] > 0 and line["baseline_rate"] > 0
        assert 0 < line["p50_ms"] <= line["p99_ms"]
        assert line["peak_rss_mb"] > 10
