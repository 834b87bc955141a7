"""The direction of imports (DESIGN.md): bot.channels, bot.web -> bot.dispatch -> handlers
-> bot.services, storage. Handlers never touch a network library or a channel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "handlers": ("telegram", "aiohttp", "bot.channels", "bot.web", "bot.dispatch", "bot.app",
                 "bot.inbox", "bot.outbox", "bot.cli"),
    "storage": ("bot", "handlers", "telegram", "aiohttp"),
    "bot/services": ("handlers", "bot.channels", "bot.web", "bot.dispatch", "bot.app",
                     "telegram", "aiohttp"),
}  # fmt: skip


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", FORBIDDEN)
def test_imports_flow_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    ]
    assert bad == []


def test_only_the_telegram_channel_knows_the_telegram_library():
    users = sorted(
        str(path.relative_to(ROOT))
        for package in ("bot", "handlers", "storage")
        for path in (ROOT / package).rglob("*.py")
        if any(n == "telegram" or n.startswith("telegram.") for n in imports(path))
    )
    assert users == ["bot/channels/telegram.py", "bot/channels/telegram_request.py"]
