"""GET /api/ice-servers: STUN and (when configured) TURN servers for the signed-in user.

TURN credentials are minted per request by ``turn.credentials`` (coturn's REST-API scheme),
short-lived and tied to the user's address.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from config.settings import Settings
from turn.credentials import ice_servers
from turn.uris import UriError, parse_uri
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
            ice_servers=msgspec.convert(
                offered_ice_servers(settings, email, _stun_port(request)), list[out.IceServer]
            ),
            relay=out.RelayPolicy(
                mode=settings.relay.mode,
                connect_timeout_ms=int(settings.relay.connect_timeout_s * 1000),
            ),
        )
    )


def _stun_port(request: web.Request) -> int:
    """The port the built-in STUN responder listens on; 0 when it does not."""
    responder = request.app.get(keys.STUN)
    address = responder.address if responder is not None else None
    return address[1] if address else 0


def own_stun_uris(settings: Settings, port: int) -> list[str]:
    """The built-in STUN responder's URI (when it listens on ``port``) and ``stun.uris``,
    checked and in order."""
    builtin = settings.stun_uri_on(port)
    found = [builtin] if builtin else []
    for text in settings.stun.uris:
        uri = parse_uri(text)
        if uri.is_turn:
            raise UriError(f"{text!r}: stun.uris takes stun: or stuns: URIs")
        found.append(str(uri))
    return list(dict.fromkeys(found))


def offered_ice_servers(settings: Settings, user: str, stun_port: int) -> list[dict[str, object]]:
    """Our own STUN servers first, then what the TURN settings give (their STUN and TURN)."""
    servers: list[dict[str, object]] = list(ice_servers(settings.turn, user))
    own = own_stun_uris(settings, stun_port)
    if own:
        servers.insert(0, {"urls": own})
    return servers


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
