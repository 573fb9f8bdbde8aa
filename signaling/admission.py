"""What the hub asks the application before admitting a connection or a client event.

The hub knows nothing of client addresses, trusted proxies or where rate-limit buckets live
(one process or Redis): the composition root builds these from the app's limits and hands them
in. Both are optional; without them the hub applies only its own per-connection limits.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web


class Ticket(Protocol):
    """A connection admitted by :class:`ConnectionGate`; released when the socket ends."""

    async def release(self) -> None: ...


class ConnectionGate(Protocol):
    async def admit(self, request: web.Request) -> Ticket | None:
        """Count a new websocket connection; None when its client is over capacity (the
        socket is then refused with close code 4100, so clients back off)."""
        ...


class ClientEventLimit(Protocol):
    async def allow(self, user_id: str) -> bool:
        """Take one client event from ``user_id``'s allowance (shared by all of the user's
        connections, cluster-wide when it lives in Redis). True when allowed; implementations
        fail open (True) when their storage does not answer."""
        ...
