"""The route table of the JSON API: each operation's handler next to what it promises.

Handler modules list their :class:`Route` s; :func:`web.api.setup_api_routes` registers them
and :mod:`web.api.openapi` turns the same table into the OpenAPI document, so a route cannot
be served without being described (the document test checks the reverse).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from web.api.response_models import Error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Reply:
    """One documented answer: its status, what it means and, when JSON, its model."""

    status: int
    description: str
    model: type[msgspec.Struct] | None = None


@dataclass(frozen=True)
class Param:
    """A query parameter (path parameters are read from the path itself)."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    replies: tuple[Reply, ...]
    body: type[msgspec.Struct] | None = None
    """The request model, when the operation reads a JSON body."""
    form_body: bool = False
    """The body may also come form-encoded (pusher-js posts forms)."""
    params: tuple[Param, ...] = ()
    signed_in: bool = True
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Schemas of path parameters that are more than plain text."""


@dataclass(frozen=True)
class Route:
    operation: Operation
    handler: Handler


def add_routes(app: web.Application, routes: tuple[Route, ...]) -> None:
    for route in routes:
        app.router.add_route(route.operation.method, route.operation.path, route.handler)


def error(status: int, description: str) -> Reply:
    """A documented error answer (always the one error shape)."""
    return Reply(status, description, Error)


NOT_SIGNED_IN = error(401, "Not signed in")
TOO_MANY_WRITES = error(
    429, "Too many changes by this user for now (limits.writes); Retry-After says when to retry"
)
SESSION_ID = {"sessionId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}
