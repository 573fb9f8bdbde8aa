"""Mount the media relay: who may use it and with which ICE servers.

The relay package knows nothing of users or sessions; this module injects the check that
the signed-in user is a participant of the session, and gives the relay's server peers the
same STUN/TURN servers the browsers get. The :class:`~relay.manager.RelayManager` itself is
built, started and closed by the composition root (``panamia/app.py``), which stores it under
``keys.RELAY`` once the app starts, after the routes below are frozen. So the routes look the
manager up on each request.
"""

from __future__ import annotations

from aiohttp import web
from aiortc import RTCIceServer

from relay.api import LEAVE_PATH, OFFER_PATH, make_relay_routes
from turn.credentials import ice_servers
from web import keys
from web.api.sessions import session_of_participant
from web.auth import require_user

RELAY_USER = "panamia-relay"
"""The TURN user name the relay's own server peers get credentials for."""


def relay_ice_servers(app: web.Application) -> list[RTCIceServer]:
    """The relay's ICE servers, one URL per entry (aiortc only uses the first of a list)."""
    servers: list[RTCIceServer] = []
    for entry in ice_servers(app[keys.SETTINGS].turn, RELAY_USER):
        urls = entry["urls"]
        for url in [urls] if isinstance(urls, str) else list(urls):
            servers.append(
                RTCIceServer(
                    urls=url, username=entry.get("username"), credential=entry.get("credential")
                )
            )
    return servers


async def authorize_participant(request: web.Request, session_id: str) -> str:
    """The signed-in participant of the session (401, 403 or 404 otherwise)."""
    email = await require_user(request)
    await session_of_participant(request, session_id, email)
    return email


def setup_relay(app: web.Application) -> None:
    """Mount the relay's offer and leave routes on the app's (future) RelayManager."""
    for path in (OFFER_PATH, LEAVE_PATH):
        app.router.add_post(path, relay_request)


async def relay_request(request: web.Request) -> web.StreamResponse:
    """Hand the request to the relay's own handler for this route, bound to the app's manager.

    Binding per request costs two closures, which is nothing next to an SDP negotiation, and
    keeps ``relay.api`` the only place that knows what the routes do.
    """
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    for route in make_relay_routes(request.app[keys.RELAY], authorize_participant):
        if route.path == path and route.method == request.method:
            return await route.handler(request)
    raise web.HTTPNotFound()
