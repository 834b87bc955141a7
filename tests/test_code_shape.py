"""No function or method in bot/, handlers/ or storage/ longer than MAX_LINES lines.

A function is measured from its `def` line to its last line (end_lineno - lineno + 1), so
decorators do not count; a nested function counts towards its outer function as well as on its
own. Alembic migrations under storage/migrations/versions/ are left out: a schema migration is
by nature one long list of table definitions, and splitting it would only hide that list.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage")
EXCLUDED = (ROOT / "storage" / "migrations" / "versions",)
MAX_LINES = 50

Function = ast.FunctionDef | ast.AsyncFunctionDef


def sources() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not any(path.is_relative_to(folder) for folder in EXCLUDED)
    )


def qualified_functions(tree: ast.AST) -> list[tuple[str, Function]]:
    """Every function and method with its dotted name within the module (Class.method)."""
    found: list[tuple[str, Function]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, Function):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def length(function: Function) -> int:
    assert function.end_lineno is not None
    return function.end_lineno - function.lineno + 1


def too_long(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT)
    return [
        f"{where}:{function.lineno} {name} ({length(function)} lines)"
        for name, function in qualified_functions(tree)
        if length(function) > MAX_LINES
    ]


def test_the_scan_covers_the_packages_but_not_the_migrations():
    scanned = {path.relative_to(ROOT).as_posix() for path in sources()}
    assert {"bot/cli.py", "handlers/forms.py", "storage/models.py"} <= scanned
    assert "storage/migrations/env.py" in scanned
    assert not any(path.startswith("storage/migrations/versions/") for path in scanned)


def test_no_function_is_longer_than_fifty_lines():
    found = [problem for path in sources() for problem in too_long(path)]
    listing = "\n".join(found)
    assert not found, f"split these into helpers of at most {MAX_LINES} lines:\n{listing}"


def test_the_check_measures_from_def_to_end_without_decorators():
    def body(indent: str) -> str:
        return "\n".join(f"{indent}x{n} = {n}" for n in range(MAX_LINES - 1))

    source = (
        f"@decorator\n@another\ndef fits():\n{body('    ')}\n\n"
        f"class Holder:\n    async def method(self):\n{body('        ')}\n        pass\n"
    )
    lengths = {name: length(function) for name, function in qualified_functions(ast.parse(source))}
    assert lengths == {"fits": MAX_LINES, "Holder.method": MAX_LINES + 1}
