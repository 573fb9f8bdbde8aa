"""What every part of :class:`signaling.redis_bus.RedisBus` shares: its Redis client and
scripts, the node's in-memory share of the cluster state, and the available/down switch."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import Any

import structlog

from signaling import redis_scripts as scripts
from signaling.bus import BusUnavailable, MessageHandler, NodeLossHandler, RecoveryHandler

log = structlog.get_logger(__name__)

FIELD_SEP = "\x1f"
"""Joins channel and socket id in the field names of a node's presence hash."""


def presence_field(channel: str, socket_id: str) -> str:
    """The field naming one presence connection in its node's presence hash."""
    return f"{channel}{FIELD_SEP}{socket_id}"


class RedisBusBase:
    """State and helpers shared by the bus's parts; see :class:`signaling.redis_bus.RedisBus`."""

    def __init__(
        self,
        url: str,
        node_timeout_s: float = 15.0,
        prefix: str = "panamia:",
        max_outbound: int = 100_000,
    ) -> None:
        import redis.asyncio as aioredis

        self.node_id = secrets.token_hex(6)
        self._redis: Any = aioredis.Redis.from_url(url, decode_responses=False)
        self._timeout = node_timeout_s
        self._p = prefix
        self._pubsub: Any = None
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loss_handlers: list[NodeLossHandler] = []
        self._recovery_handlers: list[RecoveryHandler] = []
        self._background: set[asyncio.Task[None]] = set()
        self._origin = self.node_id.encode() + b"|"
        self._outbound: deque[tuple[str, bytes, asyncio.Future[None] | None]] = deque()
        self._outbound_ready = asyncio.Event()
        self._max_outbound = max_outbound
        self.dropped = 0
        self._stopping = False
        self._ready = False
        self._down_since: float | None = None
        self._ready_since = 0.0
        self.recoveries: list[float] = []
        """Seconds from losing Redis to being available again, per outage (for metrics/tests)."""
        self._local_presence: dict[tuple[str, str], tuple[str, str]] = {}
        """(channel, socket_id) -> (user_id, user_info) of this node's presence connections."""
        self._local_occupancy: dict[str, int] = {}
        """channel -> this node's subscription count."""
        self._departed: dict[tuple[str, str], str] = {}
        """(channel, socket_id) -> user_id of presence connections closed while Redis was
        down: once every node had time to re-assert, users left with no connection are
        reported gone (``member_removed``)."""
        self._peers: dict[str, float] = {}
        """Other live nodes -> when last seen alive (monotonic). A confirmed publish must reach
        each of them: fewer pub/sub receivers means one is not listening (yet)."""
        self._join: Any = self._redis.register_script(scripts.JOIN)
        self._leave: Any = self._redis.register_script(scripts.LEAVE)
        self._occ: Any = self._redis.register_script(scripts.OCCUPANCY)
        self._reset_occ: Any = self._redis.register_script(scripts.RESET_OCCUPANCY)

    # keys
    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    # --- availability ----------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._ready

    async def ping(self) -> None:
        if not self._ready:
            raise BusUnavailable("not subscribed to Redis pub/sub (recovering)")
        await self._redis.ping()

    def _mark_down(self, where: str, exc: BaseException | None = None) -> None:
        if self._ready:
            self._ready = False
            self._down_since = time.monotonic()
            log.warning("bus.down", where=where, error=str(exc) if exc else "")
            self._fail_outbound()

    def _fail_outbound(self) -> None:
        """Fail the confirmed publishes still queued: their callers answer 503 at once."""
        for _channel, _data, future in self._outbound:
            if future is not None and not future.done():
                future.set_exception(BusUnavailable("Redis is unavailable"))

    # --- presence keys ---------------------------------------------------------------
    def _presence_keys(self, channel: str, node: str | None = None) -> list[str]:
        return [
            self._k("pres", channel, "conns"),
            self._k("pres", channel, "users"),
            self._k("pres", channel, "info"),
            self._k("node", node or self.node_id, "pres"),
        ]
