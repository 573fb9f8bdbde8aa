"""structlog in front of stdlib logging.

aiohttp, aiortc and aioice log through stdlib; routing everything through one
``ProcessorFormatter`` gives every record the same shape: JSON lines in production (stderr
not a terminal, or ``log.json = true``) and coloured console lines in development.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from config.settings import LogSettings

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def configure_logging(settings: LogSettings, stream: Any = None) -> None:
    out = stream if stream is not None else sys.stderr
    use_json = settings.json if settings.json is not None else not _isatty(out)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=_isatty(out))
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    # aiortc and aioice are chatty at INFO; keep them quieter unless asked for DEBUG.
    if settings.level.upper() != "DEBUG":
        for noisy in ("aioice", "aiortc"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _identity(_logger: Any, _name: str, event: Any) -> Any:
    return event


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
