"""The benchmark still runs (on a tiny load); its numbers are read in bench runs, not here."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "bench", "channel", "db", "processes", "rate", "baseline_rate", "ratio", "p50_ms", "p99_ms",
    "peak_rss_mb", "lost", "repeated", "reordered",
}  # fmt: skip
# A Fernet key is URL-safe base64, so about one in sixty-four starts with "-": the benches
# take theirs from the environment, where it cannot be read as an option. This one does.
DASH_KEY = base64.urlsafe_b64encode(b"\xf8" + bytes(31)).decode()
BENCH_ENV = {**os.environ, "UNIONBOT_ENCRYPTION_KEY": DASH_KEY}


def test_e2e_bench_prints_one_line_per_database_and_channel():
    result = subprocess.run(
        [sys.executable, "bench/e2e.py", "--workers", "4", "--seconds", "0.5", "--warmup", "0.2",
         "--processes", "1,2", "--numbered", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=BENCH_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["db"], line["channel"], line["processes"]) for line in lines] == [
        ("sqlite", "telegram", 1), ("sqlite", "zalo", 1), ("postgresql", "telegram", 1),
        ("postgresql", "telegram", 2), ("postgresql", "zalo", 1), ("postgresql", "zalo", 2),
    ]  # fmt: skip
    for line in lines:
        assert set(line) == KEYS
        assert line["bench"] == "e2e"
        # Every numbered message answered once, each chat in order, with 2 processes too.
        assert line["lost"] == line["repeated"] == line["reordered"] == 0, line
        assert line["rate"] > 0 and line["baseline_rate"] > 0
        assert 0 < line["p50_ms"] <= line["p99_ms"]
        assert line["peak_rss_mb"] > 10


FAQ_KEYS = {
    "bench", "accuracy", "by_style", "oos_rejection", "real_accuracy", "baseline_accuracy",
    "baseline_by_style", "p50_ms", "p99_ms", "build_s", "rss_mb", "rss_added_mb",
    "heldout_by_style", "heldout_oos_rejection", "heldout_baseline_by_style", "cv_accuracy",
    "model_build_s",
}  # fmt: skip


def test_faq_bench_prints_one_line_with_the_agreed_keys(tmp_path):
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        "\n".join(
            json.dumps(row, ensure_ascii=False)
            for row in (
                {
                    "q": "cty no luong 2 thang",
                    "topic": "rights.wage_payment",
                    "style": "unaccented",
                },
                {"q": "Đoàn phí đóng bao nhiêu?", "topic": "join.dues", "style": "accented"},
                {"q": "e bị đuổi vc ko báo trc", "topic": "rights.dismissal", "style": "teencode"},
                {"q": "xổ số hôm nay", "topic": None, "style": "accented"},
            )
        ),
        encoding="utf-8",
    )
    real = tmp_path / "real.jsonl"
    real.write_text(json.dumps({"q": "Mức đóng đoàn phí?", "topics": ["join.dues"]}) + "\n")
    result = subprocess.run(
        [sys.executable, "bench/faq.py", str(dev), str(real), "--heldout", str(dev),
         "--cv-folds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(line) == FAQ_KEYS and line["bench"] == "faq"
    assert set(line["by_style"]) == set(line["baseline_by_style"]) == {
        "accented", "unaccented", "teencode",
    }  # fmt: skip
    assert 0 <= line["accuracy"] <= 1 and line["oos_rejection"] == 1.0
    # the held-out scores are the same scores, on the file given (here the dev file again)
    assert line["heldout_by_style"] == line["by_style"]
    assert line["heldout_baseline_by_style"] == line["baseline_by_style"]
    assert line["heldout_oos_rejection"] == line["oos_rejection"]
    assert 0 < line["p50_ms"] <= line["p99_ms"] and line["build_s"] > 0 and line["rss_mb"] > 10
    assert 0.5 < line["cv_accuracy"] <= 1 and line["model_build_s"] > 0


def test_dashboard_bench_prints_one_line_per_database():
    result = subprocess.run(
        [sys.executable, "bench/dashboard.py", "--cases", "60", "--rounds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["db"] for line in lines] == ["sqlite", "postgresql"]
    for line in lines:
        assert line["bench"] == "queue" and line["cases"] == 60
        assert 0 < line["new_p50_ms"] <= line["new_p99_ms"]
        assert line["all_p50_ms"] > 0 and line["last_page_p50_ms"] > 0


BROADCAST_KEYS = {
    "bench", "recipients", "limit_per_s", "rate", "ratio", "duplicates", "lost",
    "reply_p99_ms", "peak_rss_mb", "unthrottled_rate",
}  # fmt: skip


def test_broadcast_bench_prints_one_line_with_the_agreed_keys():
    result = subprocess.run(
        [sys.executable, "bench/broadcast.py", "--seconds", "1", "--chaos", "0",
         "--unthrottled", "200"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=BENCH_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stdout.splitlines()]
    assert set(line) == BROADCAST_KEYS and line["bench"] == "broadcast"
    assert line["recipients"] == 31 and line["duplicates"] == 0
    assert line["rate"] > 0 and line["unthrottled_rate"] > 0 and line["peak_rss_mb"] > 10


CHAOS_KEYS = {
    "bench", "trials", "lost", "processed_twice", "duplicate_sends", "reordered",
    "db_restart_recovery_s",
}  # fmt: skip


def test_chaos_bench_prints_one_line_with_the_agreed_keys():
    result = subprocess.run(
        [sys.executable, "bench/chaos.py", "--trials", "1", "--chats", "2", "--away", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert set(line) == CHAOS_KEYS
    assert line["trials"] == 1
    assert line["lost"] == line["processed_twice"] == line["reordered"] == 0, line
    assert 0 < line["db_restart_recovery_s"] < 60
