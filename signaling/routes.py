"""Routes of the hub: the websocket endpoint and Pusher's HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from signaling import http_api, keys
from signaling.bus import BusUnavailable
from signaling.ws import serve_websocket

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 2
"""Retry-After of a 503 while the bus is down (recovery takes about a second once Redis
answers again)."""


async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    return await serve_websocket(
        request, app[keys.HUB], app[keys.HUB].settings, app[keys.WEBSOCKETS]
    )


def _api(
    action: Callable[[web.Request, bytes], Awaitable[dict[str, Any]]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = await http_api.authenticate(request, request.app[keys.HUB])
            return web.json_response(await action(request, body))
        except http_api.ApiError as exc:
            if exc.status in (401, 403):
                log.info("hub.api_refused", path=request.path, reason=exc.message)
            return http_api.error_response(exc)
        except BusUnavailable as exc:
            # Never a 200 for an event that may not reach every node: the caller retries.
            log.warning("hub.api_unavailable", path=request.path, error=str(exc))
            return web.json_response(
                {"error": "The hub cannot reach its message bus; retry shortly"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    return handler


def _query(request: web.Request) -> dict[str, str]:
    return {key.lower(): value for key, value in request.query.items()}


async def _events(request: web.Request, body: bytes) -> dict[str, Any]:
    return await http_api.trigger_event(request.app[keys.HUB], body)


async def _batch(request: web.Request, body: bytes) -> dict[str, Any]:
    return await http_api.trigger_batch(request.app[keys.HUB], body)


async def _channels(request: web.Request, _body: bytes) -> dict[str, Any]:
    return await http_api.list_channels(request.app[keys.HUB], _query(request))


async def _channel(request: web.Request, _body: bytes) -> dict[str, Any]:
    return await http_api.channel_details(
        request.app[keys.HUB], request.match_info["channel"], _query(request)
    )


async def _users(request: web.Request, _body: bytes) -> dict[str, Any]:
    return await http_api.channel_users(request.app[keys.HUB], request.match_info["channel"])


def setup_signaling_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/app/{key}", websocket)
    router.add_post("/apps/{app_id}/events", _api(_events))
    router.add_post("/apps/{app_id}/batch_events", _api(_batch))
    router.add_get("/apps/{app_id}/channels", _api(_channels))
    router.add_get("/apps/{app_id}/channels/{channel}", _api(_channel))
    router.add_get("/apps/{app_id}/channels/{channel}/users", _api(_users))
