"""A client that goes away mid-request is not a server fault: no 500, no ``api.unhandled``."""

from __future__ import annotations

import structlog.testing
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from web.api.errors import api_error_middleware


async def _cut_short(request: web.Request) -> web.Response:
    raise ConnectionResetError("Connection lost")


async def _broken(request: web.Request) -> web.Response:
    raise RuntimeError("a real fault")


async def test_a_reset_connection_is_logged_quietly_and_answered_400(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application(middlewares=[api_error_middleware])
    app.router.add_post("/api/gone", _cut_short)
    app.router.add_post("/api/broken", _broken)
    client = await aiohttp_client(app)
    with structlog.testing.capture_logs() as logs:
        gone = await client.post("/api/gone", data=b"{}")
        broken = await client.post("/api/broken", data=b"{}")
    assert gone.status == 400
    assert (await gone.json())["error"] == "The request was cut short"
    assert broken.status == 500
    events = [entry["event"] for entry in logs]
    assert events == ["api.client_gone", "api.unhandled"], events
