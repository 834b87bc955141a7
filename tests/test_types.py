"""mypy, strict, over bot/, handlers/ and storage/ (the settings are in pyproject.toml), as part
of the suite, so the README's test command and CI (.ci/run) both type-check the code."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_the_code_type_checks():
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
