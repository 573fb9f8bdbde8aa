"""The app's limits on the hub: connections per client address and client events per user.

These implement ``signaling.admission``'s protocols for the hub, built by the composition root
from ``[limits]``. Client addresses are resolved as for HTTP (trusted proxies honoured);
refusals are counted in ``panamia_rate_limited_total`` under the labels ``hub_connections``
and ``client_events``.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from prometheus_client import Counter

from web.client_address import client_address
from web.connection_counts import ConnectionCounts
from web.limits import Limiter, Rate

log = structlog.get_logger(__name__)

HUB_LIMIT_NAMES = ("hub_connections", "client_events")


class _Admitted:
    def __init__(self, counts: ConnectionCounts, address: str) -> None:
        self._counts = counts
        self._address = address
        self._released = False

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._counts.leave(self._address)


class AddressGate:
    """Admits at most ``limit`` open hub connections per client address (0: any number)."""

    def __init__(self, counts: ConnectionCounts, limit: int, refused: Counter) -> None:
        self._counts = counts
        self._limit = limit
        self._refused = refused

    async def admit(self, request: web.Request) -> _Admitted | None:
        address = client_address(request)
        if not await self._counts.enter(address, self._limit):
            self._refused.labels(limit="hub_connections").inc()
            log.info("limits.refused", limit="hub_connections", path=request.path)
            return None
        return _Admitted(self._counts, address)


class UserEventLimit:
    """Client events per user from one token bucket per user in ``limiter`` (in Redis when
    the cluster shares one, so all of a user's connections on all nodes draw on it). The
    Redis limiter fails open."""

    def __init__(self, limiter: Limiter, rate: Rate, refused: Counter) -> None:
        self._limiter = limiter
        self._rate = rate
        self._refused = refused

    async def allow(self, user_id: str) -> bool:
        if not self._rate.enabled:
            return True
        if await self._limiter.hit("client_events", user_id, self._rate) <= 0:
            return True
        self._refused.labels(limit="client_events").inc()
        return False
