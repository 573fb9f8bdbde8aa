"""GET /api/ice-servers: STUN and (when configured) TURN servers for the signed-in user.

TURN credentials are minted per request by ``turn.credentials`` (coturn's REST-API scheme),
short-lived and tied to the user's address.
"""

from __future__ import annotations

from aiohttp import web

from turn.credentials import ice_servers
from web import keys
from web.auth import require_user


async def get_ice_servers(request: web.Request) -> web.Response:
    email = await require_user(request)
    settings = request.app[keys.SETTINGS]
    relay = {
        "mode": settings.relay.mode,
        "connectTimeoutMs": int(settings.relay.connect_timeout_s * 1000),
    }
    return web.json_response({"iceServers": ice_servers(settings.turn, email), "relay": relay})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/ice-servers", get_ice_servers)
