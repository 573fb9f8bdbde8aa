"""Log records from structlog and from stdlib loggers (aiohttp, aiortc) share one format."""

from __future__ import annotations

import io
import json
import logging

import structlog

from config.settings import LogSettings
from panamia.log import configure_logging


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_output_for_structlog_and_stdlib_records() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="INFO", json=True), stream=out)
    structlog.contextvars.bind_contextvars(request_id="abc123")
    try:
        structlog.get_logger("panamia.test").info("booking.created", session_id="s1")
        logging.getLogger("aiohttp.server").warning("peer went away")
    finally:
        structlog.contextvars.clear_contextvars()
    first, second = _lines(out)
    assert first["event"] == "booking.created"
    assert first["session_id"] == "s1"
    assert first["request_id"] == "abc123"
    assert first["level"] == "info"
    assert second["event"] == "peer went away"
    assert second["logger"] == "aiohttp.server"
    assert second["level"] == "warning"
    assert {"timestamp"} <= first.keys() & second.keys()


def test_console_output_is_not_json() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="INFO", json=False), stream=out)
    structlog.get_logger("panamia.test").info("hello.world", answer=42)
    text = out.getvalue()
    assert "hello.world" in text
    assert "answer" in text
    assert not text.lstrip().startswith("{")


def test_json_is_the_default_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="INFO", json=None), stream=out)
    structlog.get_logger("x").info("piped")
    assert _lines(out)[0]["event"] == "piped"


def test_level_filters_records() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(level="WARNING", json=True), stream=out)
    structlog.get_logger("x").info("hidden")
    structlog.get_logger("x").warning("shown")
    assert [line["event"] for line in _lines(out)] == ["shown"]
