"""The JSON API: small handler modules, each registering its own routes."""

from __future__ import annotations

from aiohttp import web

from web.api import auth, chat, discover, ice, openapi, profile, pusher_auth, sessions
from web.api.errors import api_error_middleware
from web.auth import csrf_middleware


def setup_api_routes(app: web.Application) -> None:
    """Register the API routes and its two middlewares (CSRF first, then error shaping)."""
    app.middlewares.append(csrf_middleware)
    app.middlewares.append(api_error_middleware)
    for module in (auth, profile, discover, sessions, chat, pusher_auth, ice, openapi):
        module.setup(app)
