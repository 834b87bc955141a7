"""Each kind of code in its own room (docs/architecture.md): which room may import which, and
no import cycles among our modules. Imports inside functions count; imports only for type
checking (under `if TYPE_CHECKING:`) do not, since they never run."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage")

# Rooms, most specific first: a module belongs to the first room whose prefix it has.
ROOMS = {
    "contract": ("handlers.types", "handlers.payloads"),
    "registry": ("handlers.registry",),
    "handlers": ("handlers",),
    "services": ("bot.services",),
    "channels": ("bot.channels",),
    "web": ("bot.web",),
    "settings": ("bot.config", "bot.logs"),
    "edge": ("bot.app", "bot.cli", "bot.__main__", "bot.doctor"),
    "engine": ("bot",),
    "storage": ("storage",),
}
# Which rooms each room may import (its own room always allowed). `edge` wires everything.
ALLOWED = {
    "storage": set(),
    "contract": set(),
    "settings": set(),
    "services": {"storage", "settings", "contract"},
    "handlers": {"contract", "services", "storage"},
    "registry": {"handlers", "contract", "services", "storage"},
    "engine": {"registry", "contract", "services", "storage", "settings", "channels.base"},
    "channels": {"contract", "settings", "storage", "engine.inbox"},
    "web": {"services", "engine.outbox", "contract", "storage", "settings"},
    "edge": {"*"},
}
# Single modules another room may use without the rest of theirs.
MODULES = {
    "channels.base": ("bot.channels.base",),
    "engine.inbox": ("bot.inbox",),
    "engine.outbox": ("bot.outbox",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST):
    """Every node except those under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            continue
        yield child
        yield from _walk(child)


def resolve(name: str) -> str | None:
    """The module of ours an imported name lives in, if any."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Our modules that `module` imports, anywhere in it (functions included)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # "from handlers import menu" imports handlers.menu; "from bot.services import
            # Services" resolves to the package module that defines it.
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = resolve(name)
            if target and target != module:
                found.add(target)
    return found


def room_of(module: str) -> str:
    for room, prefixes in ROOMS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return room
    raise AssertionError(f"{module} is in no room")


def allowed(source: str, target: str) -> bool:
    mine, theirs = room_of(source), room_of(target)
    rules = ALLOWED[mine]
    if mine == theirs or "*" in rules or theirs in rules:
        return True
    return any(target in MODULES[name] for name in rules if name in MODULES)


def forbidden_imports() -> list[str]:
    return sorted(
        f"{source} ({room_of(source)}) imports {target} ({room_of(target)})"
        for source in modules()
        for target in imports_of(source)
        if not allowed(source, target)
    )


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph = {module: imports_of(module) for module in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_module_is_in_a_room():
    assert {module: room_of(module) for module in modules()}


def test_imports_follow_the_rooms():
    assert forbidden_imports() == []


def test_there_are_no_import_cycles():
    assert cycles() == []


def test_the_checks_catch_a_forbidden_import_and_a_cycle(tmp_path, monkeypatch):
    """The checks themselves: a handler importing the web, and two services importing each
    other (inside a function), are both found."""
    fake = {
        "handlers.a": "from bot.web import pages\n",
        "bot.services.x": "def f():\n    from bot.services import y\n",
        "bot.services.y": "from bot.services import x\n",
        "bot.web.pages": "",
        "bot.services": "",
    }
    paths = {}
    for name, text in fake.items():
        path = tmp_path / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths[name] = path
    monkeypatch.setattr(f"{__name__}.modules", lambda: paths)
    assert "handlers.a (handlers) imports bot.web.pages (web)" in forbidden_imports()
    assert cycles() == [["bot.services.x", "bot.services.y"]]


@pytest.mark.parametrize("module", ["handlers.types"])
def test_the_contract_is_light(module):
    """Importing the contract loads none of our other modules and no heavy library."""
    import subprocess
    import sys

    code = (
        f"import sys; import {module}; "
        "mods = [m for m in sys.modules if m.split('.')[0] in "
        "('bot', 'handlers', 'storage', 'sqlalchemy', 'PIL', 'pypdf', 'argon2', 'telegram')]; "
        "print(' '.join(sorted(mods)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["handlers", module]


def test_only_the_telegram_channel_knows_the_telegram_library():
    users = sorted(
        str(path.relative_to(ROOT))
        for path in modules().values()
        for node in _walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if name == "telegram" or name.startswith("telegram.")
    )
    assert sorted(set(users)) == ["bot/channels/telegram.py", "bot/channels/telegram_request.py"]


def _imported_test_files(node: ast.AST) -> list[str]:
    """The test files (tests/…/test_*.py) an import statement reaches into."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        named = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    else:
        return []
    ours = [name for name in named if name.startswith(("tests.", "."))]
    return [name for name in ours if name.rsplit(".", 1)[-1].startswith("test_")]


def test_test_files_share_helpers_only_through_shared_modules():
    """tests/README.md: a test file imports from tests/support.py, tests/scenarios.py,
    tests/fakes/ or its own directory's conftest.py, never from another test file."""
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in _imported_test_files(node)
    ]
    assert found == []
