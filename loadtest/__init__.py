"""Load tester: headless aiortc peers driving real sessions through the public HTTP and
websocket surface only, like browsers (it imports nothing else of ours)."""

from __future__ import annotations

from loadtest.options import Options
from loadtest.report import Report
from loadtest.runner import run_loadtest

__all__ = ["Options", "Report", "run_loadtest"]
