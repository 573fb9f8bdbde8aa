"""Open hub connections per client address: counted on this node, or for the whole cluster.

:class:`LocalConnectionCounts` counts this process's connections. :class:`RedisConnectionCounts`
keeps each node's share in Redis, in one hash per address (``panamia:hubconn:<address>``) with
two fields per node: its count and when it last confirmed it (Redis's clock). A node confirms
its counts every ``heartbeat_s``; shares not confirmed within ``expiry_s`` belong to a dead node
and are ignored and deleted, so a crashed node's connections stop counting by themselves. The
heartbeat also writes the counts back after Redis restarted empty.

The node's own counts live in its memory and are the truth for its share: connections add and
remove one in Redis as they come and go, and the heartbeat writes the absolute counts, so a
write lost to an error or a race is repaired within ``heartbeat_s``. Redis errors fail open
(the connection is admitted and a warning logged), like the HTTP rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Protocol

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)


class ConnectionCounts(Protocol):
    async def enter(self, address: str, limit: int) -> bool:
        """Count one more connection from ``address`` unless ``limit`` are already open
        (0: no limit). True when counted."""
        ...

    async def leave(self, address: str) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalConnectionCounts:
    """Connections of this process per address."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def enter(self, address: str, limit: int) -> bool:
        have = self.counts.get(address, 0)
        if limit and have >= limit:
            return False
        self.counts[address] = have + 1
        return True

    async def leave(self, address: str) -> None:
        left = self.counts.get(address, 0) - 1
        if left > 0:
            self.counts[address] = left
        else:
            self.counts.pop(address, None)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.counts.clear()


# KEYS[1]: the address's hash. ARGV: node, limit, expiry (ms). Adds one to the node's share
# unless the address would go over the limit. Returns 1 when admitted, 0 when refused.
_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, limit, expiry = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local fields = redis.call('HGETALL', KEYS[1])
local counts, seen = {}, {}
for i = 1, #fields, 2 do
  local owner, kind = string.match(fields[i], '^(.*)|(%a)$')
  if kind == 'n' then counts[owner] = tonumber(fields[i + 1])
  elseif kind == 't' then seen[owner] = tonumber(fields[i + 1]) end
end
local total = 0
for owner, count in pairs(counts) do
  if owner == node or (seen[owner] and now - seen[owner] <= expiry) then
    total = total + count
  else
    redis.call('HDEL', KEYS[1], owner .. '|n', owner .. '|t')
  end
end
if limit > 0 and total + 1 > limit then return 0 end
redis.call('HINCRBY', KEYS[1], node .. '|n', 1)
redis.call('HSET', KEYS[1], node .. '|t', now)
redis.call('PEXPIRE', KEYS[1], expiry)
return 1
"""

# KEYS[1]: the address's hash; ARGV: node. One connection fewer in the node's share.
_LEAVE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|n', -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1] .. '|n', ARGV[1] .. '|t')
end
return 1
"""

# KEYS: address hashes; ARGV: node, expiry (ms), then one count per key (0: remove the share).
_CONFIRM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, expiry = ARGV[1], tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i + 2])
  if count > 0 then
    redis.call('HSET', key, node .. '|n', count, node .. '|t', now)
    redis.call('PEXPIRE', key, expiry)
  else
    redis.call('HDEL', key, node .. '|n', node .. '|t')
  end
end
return 1
"""


class RedisConnectionCounts:
    """Connections per address across every node sharing one Redis (module docstring)."""

    def __init__(
        self,
        redis_url: str,
        *,
        heartbeat_s: float = 10.0,
        expiry_s: float = 30.0,
        timeout_s: float = 1.0,
        prefix: str = "panamia:hubconn:",
    ) -> None:
        self.node = secrets.token_hex(6)
        self.local = LocalConnectionCounts()
        self._redis: Redis = Redis.from_url(
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._enter = self._redis.register_script(_ENTER)
        self._leave = self._redis.register_script(_LEAVE)
        self._confirm = self._redis.register_script(_CONFIRM)
        self._heartbeat_s = heartbeat_s
        self._expiry_ms = int(expiry_s * 1000)
        self._prefix = prefix
        self._task: asyncio.Task[None] | None = None

    def _key(self, address: str) -> str:
        return self._prefix + address

    async def enter(self, address: str, limit: int) -> bool:
        counts = self.local.counts
        counts[address] = counts.get(address, 0) + 1  # reserved while Redis is asked
        if limit and counts[address] > limit:
            admitted = 0  # over on this node alone: no need to ask Redis
        else:
            try:
                admitted = await self._enter(
                    keys=[self._key(address)], args=[self.node, limit, self._expiry_ms]
                )
            except Exception as exc:  # fail open: see the module docstring
                log.warning("hub_connections.redis_unavailable", error=type(exc).__name__)
                admitted = 1
        if not int(admitted):
            await self.local.leave(address)
        return bool(int(admitted))

    async def leave(self, address: str) -> None:
        await self.local.leave(address)
        try:
            await self._leave(keys=[self._key(address)], args=[self.node])
        except Exception as exc:
            log.warning("hub_connections.redis_unavailable", error=type(exc).__name__)

    async def _write(self, addresses: list[str]) -> None:
        if not addresses:
            return
        counts = [self.local.counts.get(address, 0) for address in addresses]
        try:
            await self._confirm(
                keys=[self._key(address) for address in addresses],
                args=[self.node, self._expiry_ms, *counts],
            )
        except Exception as exc:
            log.warning("hub_connections.redis_unavailable", error=type(exc).__name__)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            addresses = list(self.local.counts)
            for start in range(0, len(addresses), 500):
                await self._write(addresses[start : start + 500])

    async def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat(), name="hub-connections-heartbeat")

    async def _stop_heartbeat(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def abandon(self) -> None:
        """Stop without removing this node's shares, as a crashed process would (tests)."""
        await self._stop_heartbeat()
        await self._redis.aclose()

    async def close(self) -> None:
        await self._stop_heartbeat()
        addresses = list(self.local.counts)
        await self.local.close()  # all zero: the write below removes this node's shares
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._write(addresses), 1.0)
        await self._redis.aclose()
