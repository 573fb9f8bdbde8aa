"""DESIGN.md's dependency rules, checked by reading every import with ``ast``.

Imports inside functions and ``TYPE_CHECKING`` blocks count too: a rule about what a package
may know holds for type hints as much as for code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {"panamia", "config", "store", "signaling", "relay", "turn", "web", "loadtest", "bench"}

# package (or module) -> modules of ours it may import besides itself
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "turn": set(),
    "store": set(),
    "signaling.protocol": set(),
    "signaling": {"config", "store.base", "store.models", "signaling"},
    "relay": {"config"},
    "loadtest": set(),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            found.add(target)
            # `from store import sqlite` imports the submodule store.sqlite
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS}


def _rule_for(module: str) -> tuple[str, set[str]] | None:
    best: tuple[str, set[str]] | None = None
    for scope, allowed in ALLOWED.items():
        if (module == scope or module.startswith(scope + ".")) and (
            best is None or len(scope) > len(best[0])
        ):
            best = (scope, allowed)
    return best


def _is_allowed(name: str, scope: str, allowed: set[str]) -> bool:
    top = scope.split(".")[0]
    if scope == "signaling.protocol":
        return False
    if name == top or name.startswith(top + "."):
        return True
    return any(name == ok or name.startswith(ok + ".") for ok in allowed)


def _violations() -> list[str]:
    problems = []
    for package in sorted(OURS):
        folder = ROOT / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            module = _module_name(path)
            rule = _rule_for(module)
            if rule is None:
                continue
            scope, allowed = rule
            for name in sorted(_imports(path)):
                if not _is_allowed(name, scope, allowed):
                    problems.append(f"{path.relative_to(ROOT)}: imports {name} ({scope} may not)")
    return problems


def test_packages_keep_to_the_dependency_rules() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "module", "expected_bad"),
    [
        ("from store.sqlite import SqliteStore\n", "signaling/hub.py", True),
        ("from store.base import Store\n", "signaling/hub.py", False),
        ("import web.routes\n", "relay/room.py", True),
        ("from config.settings import Settings\n", "relay/room.py", False),
        ("from signaling import hub\n", "signaling/protocol.py", True),
        ("from . import models\n", "store/sqlite.py", False),
        ("from web import keys\n", "store/sqlite.py", True),
        ("from panamia.app import create_app\n", "loadtest/run.py", True),
    ],
)
def test_the_checker_itself_catches_violations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, module: str, expected_bad: bool
) -> None:
    fake_root = tmp_path
    target = fake_root / module
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    target.write_text(source)
    monkeypatch.setitem(globals(), "ROOT", fake_root)
    assert bool(_violations()) is expected_bad
