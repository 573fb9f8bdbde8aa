"""One answer for a request body that is too large: 413 with the JSON error shape, on every
route, before anything else looks at the request.

aiohttp enforces ``client_max_size`` only when a handler reads the body, and then answers in
plain text; this middleware refuses a declared ``Content-Length`` above the limit up front (so an
oversize upload costs neither a sign-in check nor a database look-up), and
:func:`web.api.errors.api_error_middleware` shapes the late refusal of a chunked body that
grows past it. Routes with a tighter limit of their own (the relay's offers, the hub's HTTP
API) still answer 413 themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_REQUEST_BODY = 1024 * 1024
"""The largest request body any route accepts (bytes); the app's ``client_max_size``."""

TOO_LARGE_MESSAGE = "The request body is too large"


def too_large(limit: int) -> web.Response:
    return web.json_response({"error": f"{TOO_LARGE_MESSAGE} (at most {limit} bytes)"}, status=413)


def refuse_oversize_bodies(limit: int = MAX_REQUEST_BODY) -> Middleware:
    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > limit:
            log.warning("request.body_too_large", path=request.path, declared=declared)
            return too_large(limit)
        return await handler(request)

    return body_limit
