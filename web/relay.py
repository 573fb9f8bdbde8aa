"""Mount the media relay: who may use it and with which ICE servers.

The relay package knows nothing of users or sessions; this module injects the check that
the signed-in user is a participant of the session and that its room is open (see
web/services/join_window.py), and gives the relay's server peers the same STUN/TURN servers
the browsers get. The relay itself (a :class:`~relay.service.RelayService`) is built,
started and closed by the composition root (``panamia/app.py``), which stores it under
``keys.RELAY`` once the app starts, after the routes below are mounted, so the routes get a
getter that reads the manager from the request's app.
"""

from __future__ import annotations

from aiohttp import web
from aiortc import RTCIceServer

from relay.api import make_relay_routes
from relay.service import RelayService
from store.models import utcnow
from turn.credentials import ice_servers
from web import keys
from web.auth import require_user
from web.services.join_window import require_open
from web.services.sessions import session_of_participant

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
    """The signed-in participant of the session while its room is open (401, 403 or 404
    otherwise; 403 names why the room is closed)."""
    email = await require_user(request)
    session = await session_of_participant(request, session_id, email)
    require_open(session, utcnow(), request.app[keys.SETTINGS].room.join_lead_minutes)
    return email


async def authorize_leaving(request: web.Request, session_id: str) -> str:
    """The signed-in participant of the session, open room or not: hanging up is always
    allowed (401, 403 or 404 otherwise)."""
    email = await require_user(request)
    await session_of_participant(request, session_id, email)
    return email


def setup_relay(app: web.Application) -> None:
    """Mount the relay's offer and leave routes on the app's (future) relay."""
    app.router.add_routes(make_relay_routes(_app_manager, authorize_participant, authorize_leaving))


def _app_manager(request: web.Request) -> RelayService:
    return request.app[keys.RELAY]
