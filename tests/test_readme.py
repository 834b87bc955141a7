"""README.md starts with the two commands a newcomer runs; .ci/run runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_first_commands_install_and_chat_then_install_and_test():
    run, test = readme_commands()[:2]
    assert run.endswith("pip install -e . && unionbot chat")
    assert test.endswith("pip install -e '.[test]' && pytest")


def test_ci_runs_the_readme_test_command():
    test = readme_commands()[1]
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_every_setting_the_bot_reads_is_documented():
    """An operator learns the settings from README's table; one missing there is invisible."""
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    reads = r"""(?:merged\.get\(|merged\[|_(?:number|rate)\(merged, )"([A-Z][A-Z0-9_]+)\""""
    read = set(re.findall(reads, source))
    assert {"DATABASE_URL", "UNIONBOT_FLOOD_LIMIT"} <= read  # the pattern still finds them
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, re.MULTILINE))
    documented |= {
        name for line in re.findall(r"^\| (`[A-Z].*?) \|", readme, re.MULTILINE)
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line)
    }  # fmt: skip
    assert sorted(read - documented) == []
