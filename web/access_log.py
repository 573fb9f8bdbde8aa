"""The HTTP access log without secrets.

Some URLs carry bearer secrets: a calendar feed's address (``/calendar/<token>.ics``, polled
for months by calendar clients) and a sign-in link (``/auth/callback?token=...``). aiohttp's
default access log writes the request line and the Referer as they came, so anyone who reads
the log could subscribe to someone's calendar or sign in as them. This logger writes the same
facts with those values replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from web.client_address import client_address

log = logging.getLogger("aiohttp.access")

REDACTED = "[redacted]"
_FEED_PATH = re.compile(r"(/calendar/)[^/?#\s\"]+")
_TOKEN_QUERY = re.compile(r"([?&;](?:[^=&#\s]*token)=)[^&#\s\"]*", re.IGNORECASE)


def redact_url(text: str) -> str:
    """A path, path+query or full URL with feed tokens and ``*token=`` values hidden."""
    return _TOKEN_QUERY.sub(rf"\g<1>{REDACTED}", _FEED_PATH.sub(rf"\g<1>{REDACTED}", text))


def _client(request: web.BaseRequest) -> str:
    """The client address, through trusted proxies when the request belongs to an app."""
    if isinstance(request, web.Request):
        try:
            return client_address(request)
        except KeyError:  # an app without settings (a bare test app)
            pass
    return request.remote or ""


class RedactingAccessLogger(AbstractAccessLogger):
    """Common-log-style lines (peer, request line, status, size, seconds, Referer, agent)."""

    def __init__(self, logger: logging.Logger = log, log_format: str = "") -> None:
        super().__init__(logger, log_format)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        version = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.3fs "%s" "%s"',
            _client(request) or "-",
            request.method,
            redact_url(request.raw_path),
            version.major,
            version.minor,
            response.status,
            response.body_length,
            time,
            redact_url(request.headers.get("Referer", "-")),
            request.headers.get("User-Agent", "-"),
        )
