"""One error shape for the whole API: ``{"error": "<message>", "field": "<name>"}``.

Handlers raise :class:`ApiError`, :class:`store.validation.ValidationError` or a store
error; :func:`api_error_middleware` turns each into that JSON shape for paths under /api/,
including aiohttp's own 404/405 and anything unexpected (logged, never shown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import structlog
from aiohttp import web

from store.base import Conflict, NotFound, StoreUnavailable
from store.validation import ValidationError
from web.api.response_models import Error

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answer: HTTP status, a human message and, when one is to blame, the field."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code
        self.headers = headers or {}
        """Extra response headers, such as Retry-After on a 429."""


def json_error(
    status: int,
    message: str,
    field: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = Error(error=message)
    if field is not None:
        body.field = field
    if code is not None:
        body.code = code
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def forbidden() -> ApiError:
    return ApiError(403, "Access denied")


@web.middleware
async def api_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.field, exc.code, exc.headers)
    except ValidationError as exc:
        return json_error(400, exc.message, exc.field)
    except NotFound:
        return json_error(404, "Not found")
    except Conflict as exc:
        return json_error(409, str(exc) or "Conflict")
    except StoreUnavailable:
        log.warning("api.store_unavailable", path=request.path)
        return json_error(503, "The database is unavailable; try again shortly")
    except web.HTTPRequestEntityTooLarge:  # a chunked body grew past client_max_size
        log.warning("api.body_too_large", path=request.path)
        return json_error(413, "The request body is too large")
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return json_error(exc.status, exc.reason)
    except ConnectionResetError:
        # The client went away mid-request (a page closing while its last report is read):
        # nobody will read the answer, and it is not a fault of the server.
        log.info("api.client_gone", path=request.path, method=request.method)
        return json_error(400, "The request was cut short")
    except Exception:
        log.exception("api.unhandled", path=request.path, method=request.method)
        return json_error(500, "Internal server error")
