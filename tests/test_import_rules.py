"""DESIGN.md's dependency rules, checked by reading every import with ``ast``.

Imports inside functions and ``TYPE_CHECKING`` blocks count too: a rule about what a package
may know holds for type hints as much as for code. Every package of ours has a rule, and on
top of them no module imports another package's private (``_name``) module or package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {
    "panamia",
    "config",
    "store",
    "signaling",
    "relay",
    "turn",
    "web",
    "loadtest",
    "bench",
    "tests",
}

# package (or module) -> modules of ours it may import besides itself
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "turn": set(),
    "store": set(),
    "signaling.protocol": set(),
    "signaling": {"config", "store.base", "store.models", "signaling"},
    "relay": {"config"},
    # A real client: the public HTTP/websocket surface only, none of the server's code.
    "loadtest": set(),
    # Handlers get services from web.AppKeys; the composition root (panamia) is above them.
    "web": {"config", "store", "signaling", "relay", "turn"},
    "panamia": OURS - {"bench", "tests"},
    "bench": OURS - {"tests"},
    "tests": set(OURS),
}

# scope -> modules it may not import even though ALLOWED lets in their package
DENIED: dict[str, set[str]] = {
    # web reads the store through store.base's protocols; app.py picks the backend
    "web": {"store.sqlite", "store.mongo"},
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


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_private_of_another(name: str, module: str) -> bool:
    """``bench._media`` imported from ``tests``: a private module of another package."""
    top, *rest = name.split(".")
    if top == module.split(".")[0]:
        return False
    return any(part.startswith("_") and not part.startswith("__") for part in rest)


def _is_allowed(name: str, scope: str, allowed: set[str]) -> bool:
    top = scope.split(".")[0]
    if scope == "signaling.protocol":
        return False
    if any(_within(name, denied) for denied in DENIED.get(scope, ())):
        return False
    if _within(name, top):
        return True
    return any(_within(name, ok) for ok in allowed)


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
                elif _is_private_of_another(name, module):
                    problems.append(
                        f"{path.relative_to(ROOT)}: imports {name}, private to another package"
                    )
    return problems


def test_every_package_has_a_rule() -> None:
    assert {package for package in OURS if _rule_for(package) is None} == set()


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
        ("from web import keys\n", "loadtest/run.py", True),
        ("from panamia.secrets import RuntimeSecrets\n", "web/keys.py", True),
        ("from config.runtime_secrets import RuntimeSecrets\n", "web/keys.py", False),
        ("from store.sqlite import SqliteStore\n", "web/api/chat.py", True),
        ("from store import mongo\n", "web/api/chat.py", True),
        ("from store.validation import CHAT_TEXT_MAX\n", "web/room.py", False),
        ("from relay.api import make_relay_routes\n", "web/relay.py", False),
        ("from bench import hub\n", "web/api/chat.py", True),
        ("from tests.support.procs import free_port\n", "bench/hub.py", True),
        ("from bench.ports import free_port\n", "tests/support/procs.py", False),
        ("from tests.browser.support import CHROMIUM\n", "panamia/demo.py", True),
        ("from web.routes import setup_routes\n", "panamia/app.py", False),
        ("from bench._media import offer\n", "tests/unit/test_relay.py", True),
        ("from bench import _media\n", "tests/unit/test_relay.py", True),
        ("from relay._compat import check\n", "web/relay.py", True),
        ("from ._media import offer\n", "bench/relay.py", False),
        ("from web.__main__ import main\n", "tests/test_cli.py", False),
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
