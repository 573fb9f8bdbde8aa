"""Asserting that hostile input leaves nothing louder than a warning in the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import pytest
import structlog

LOUD = {"error", "critical", "exception"}


@contextmanager
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[list[MutableMapping[str, Any]]]:
    """Collect the app's structlog events (and stdlib records, where aiohttp reports a handler
    that raised) while the block runs; fail if any is above warning level."""
    caplog.set_level(logging.WARNING)
    with structlog.testing.capture_logs() as events:
        yield events
    loud = [event for event in events if event.get("log_level") in LOUD]
    assert loud == [], loud
    records = [r.getMessage() for r in caplog.records if r.levelno > logging.WARNING]
    assert records == [], records
