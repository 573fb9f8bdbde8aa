"""The JSON API: small handler modules, each listing its routes in one table."""

from __future__ import annotations

from aiohttp import web

from web.api import (
    admin,
    auth,
    availability,
    calendar,
    chat,
    discover,
    ice,
    openapi,
    profile,
    pusher_auth,
    quality,
    recordings,
    sessions,
)
from web.api.errors import api_error_middleware
from web.api.spec import add_routes
from web.auth import csrf_middleware

ROUTES = (
    *auth.ROUTES,
    *profile.ROUTES,
    *discover.ROUTES,
    *availability.ROUTES,
    *sessions.ROUTES,
    *chat.ROUTES,
    *pusher_auth.ROUTES,
    *ice.ROUTES,
    *calendar.ROUTES,
    *quality.ROUTES,
    *admin.ROUTES,
    *recordings.ROUTES,
)


def setup_api_routes(app: web.Application) -> None:
    """Register the API routes and its two middlewares (CSRF first, then error shaping)."""
    app.middlewares.append(csrf_middleware)
    app.middlewares.append(api_error_middleware)
    add_routes(app, ROUTES)
    add_routes(app, openapi.routes(tuple(route.operation for route in ROUTES)))
