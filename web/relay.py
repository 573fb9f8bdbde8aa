"""Mount the media relay: who may use it, with which ICE servers, and its lifetime.

The relay package knows nothing of users or sessions; this module injects the check that
the signed-in user is a participant of the session, and gives the relay's server peers the
same STUN/TURN servers the browsers get.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiortc import RTCIceServer

from relay.api import make_relay_routes
from relay.manager import RelayManager
from turn.credentials import ice_servers
from web import keys
from web.auth import require_user
from web.metrics import register_relay_stats
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
    """The signed-in participant of the session (401, 403 or 404 otherwise)."""
    email = await require_user(request)
    await session_of_participant(request, session_id, email)
    return email


def setup_relay(app: web.Application) -> None:
    """Create the node's RelayManager (no I/O yet), mount its routes, close it on shutdown."""
    manager = RelayManager(app[keys.SETTINGS].relay, lambda: relay_ice_servers(app))
    app[keys.RELAY] = manager
    app.router.add_routes(make_relay_routes(manager, authorize_participant))
    register_relay_stats(app, manager.stats)

    async def relay_ctx(app: web.Application) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await manager.close()

    app.cleanup_ctx.append(relay_ctx)
