"""The Redis bus: pub/sub for messages, Redis hashes (updated by Lua scripts) for cluster state.

Redis runs without persistence (compose.yaml), so a restart loses everything. Each node
therefore keeps its own share of the cluster state in memory — its presence connections and
its subscription counts — and writes it back whenever it reconnects or finds itself missing
from the node list:

- while Redis is down or the node is still recovering, :attr:`RedisBus.available` is False,
  :meth:`RedisBus.ping` raises (so ``/readyz`` says "bus") and :meth:`publish_confirmed`
  raises :class:`BusUnavailable`;
- the listener notices the lost connection, then retries: it opens a new pub/sub connection,
  subscribes to every topic and waits for Redis to confirm each subscription, refreshes the
  heartbeat, re-asserts presence and occupancy, and only then marks the bus available again.

Connections that left during the outage are removed from Redis during the re-assert, and
reported through ``on_node_lost`` (as a loss of this node's share) so other nodes' clients
get ``member_removed``.
"""

from __future__ import annotations

import asyncio
import contextlib

from signaling.redis_messages import CONFIRM_TIMEOUT_S
from signaling.redis_presence import RedisPresence
from signaling.redis_recovery import RETRY_S, UNLIMITED, RedisRecovery

__all__ = ["CLOSE_TIMEOUT_S", "CONFIRM_TIMEOUT_S", "RETRY_S", "UNLIMITED", "RedisBus"]

CLOSE_TIMEOUT_S = 5.0
"""Closing never waits longer than this on Redis."""


class RedisBus(RedisRecovery, RedisPresence):
    """Redis pub/sub for messages; Redis hashes (updated by Lua scripts) for cluster state.

    The parts: ``signaling.redis_messages`` (pub/sub), ``signaling.redis_presence`` (cluster
    state), ``signaling.redis_recovery`` (reconnect, heartbeat, re-assert, reaping), on the
    shared ``signaling.redis_base``."""

    async def start(self) -> None:
        await self._redis.ping()
        await self._connect()
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="bus-heartbeat"))
        self._tasks.append(asyncio.create_task(self._publisher(), name="bus-publisher"))
        self._tasks.append(asyncio.create_task(self._listen(), name="bus-listen"))

    async def close(self) -> None:
        """Leave the cluster cleanly: our state goes now instead of after the timeout."""
        await self._stop_tasks()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._leave_cluster(), CLOSE_TIMEOUT_S)
        await self._close_connections()

    async def _leave_cluster(self) -> None:
        await self._reap(self.node_id)
        await self._redis.delete(self._k("alive", self.node_id))

    async def abandon(self) -> None:
        """Stop without cleaning up, as a crashed process would (used by tests)."""
        await self._stop_tasks()
        await self._close_connections()

    async def _stop_tasks(self) -> None:
        # redis-py's internal timeouts can swallow a cancellation, so the loops also watch
        # ``_stopping``, and we never wait on them for long.
        self._stopping = True
        self._ready = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
        self._tasks.clear()
        self._fail_outbound()

    async def _close_connections(self) -> None:
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await asyncio.wait_for(self._pubsub.aclose(), CLOSE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._redis.aclose(), CLOSE_TIMEOUT_S)
