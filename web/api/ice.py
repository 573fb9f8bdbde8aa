"""GET /api/ice-servers: STUN and (when configured) TURN servers for the signed-in user.

TURN credentials are minted per request by ``turn.credentials`` (coturn's REST-API scheme),
short-lived and tied to the user's address.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from turn.credentials import ice_servers
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer
from web.api.spec import NOT_SIGNED_IN, Operation, Reply, Route
from web.auth import require_user


async def get_ice_servers(request: web.Request) -> web.Response:
    email = await require_user(request)
    settings = request.app[keys.SETTINGS]
    return answer(
        out.IceServers(
            ice_servers=msgspec.convert(ice_servers(settings.turn, email), list[out.IceServer]),
            relay=out.RelayPolicy(
                mode=settings.relay.mode,
                connect_timeout_ms=int(settings.relay.connect_timeout_s * 1000),
            ),
        )
    )


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/ice-servers",
            "STUN and TURN servers (TURN credentials are short-lived)",
            replies=(
                Reply(200, "RTCIceServer list and the media-relay fallback policy", out.IceServers),
                NOT_SIGNED_IN,
            ),
        ),
        get_ice_servers,
    ),
)
