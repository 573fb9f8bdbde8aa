"""Fixtures shared by every test package: settings, a real app, real services."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config.loader import build_settings
from config.settings import Settings
from tests.support.procs import find_tool, free_port, running

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Build Settings for a test: data under tmp_path, dev sign-in on, JSON logs off.

    Keyword arguments are sections: ``make_settings(bus={"redis_url": url})``. The built-in
    STUN responder listens on a free port.
    """

    def factory(**sections: dict[str, Any]) -> Settings:
        raw: dict[str, dict[str, Any]] = {
            "store": {"data_dir": str(tmp_path / "var")},
            "auth": {"dev_login": True},
            "pusher": {"secret": "test-pusher-secret"},
            # The relay in the test process: many tests patch aiortc here (loopback-only ICE,
            # a failing self-check). Tests of the worker processes ask for them.
            "relay": {"workers": -1},
            # the built-in STUN responder on any free port: tests run side by side
            "stun": {"port": 0},
        }
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        return build_settings(raw)

    return factory


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a free port for the whole test session."""
    binary = find_tool("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it: apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with running(args, port):
        yield f"redis://127.0.0.1:{port}/0"


# Skips that are legitimate even in CI: an optional external service the operator may offer.
_OPTIONAL_SKIPS = ("PANAMIA_TEST_MONGODB_URI",)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI every tool is installed, so a skip for a missing tool is a failure there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes") or not report.skipped:
        return
    reason = (
        str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    )
    if any(optional in reason for optional in _OPTIONAL_SKIPS):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where every tool should be installed: {reason}"
