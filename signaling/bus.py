"""The bus between hub nodes: publish/subscribe plus the cluster-wide state presence needs.

One node (the default) uses :class:`InMemoryBus`. With ``bus.redis_url`` set, every
``panamia serve`` process uses :class:`RedisBus` and together they form one cluster:

- ``publish`` reaches the subscribers of a topic on every *other* node (a node delivers its own
  messages to its own clients directly, without a round trip);
- presence members, channel occupancy and the list of live nodes live in the bus, so "one
  member per user" and "channel occupied/vacated" hold across nodes;
- each node refreshes a heartbeat; when a node stops refreshing for ``node_timeout_s``, another
  node removes its presence members and occupancy and reports them through ``on_node_lost``,
  so the hub can tell clients (``member_removed``) and webhooks (``channel_vacated``).

Which backend a node uses is decided by the composition root (``panamia/backends.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

MessageHandler = Callable[[bytes], None]


@dataclass(frozen=True)
class NodeLoss:
    """What a dead node left behind: members gone from presence channels, vacated channels."""

    node_id: str
    removed_members: list[tuple[str, str]] = field(default_factory=list)
    """(channel, user_id) for every user whose last connection was on the dead node."""
    vacated: list[str] = field(default_factory=list)
    """Channels with no subscriber left anywhere."""


NodeLossHandler = Callable[[NodeLoss], Awaitable[None]]


@dataclass(frozen=True)
class PresenceJoin:
    added: bool
    """True when this is the user's first connection on the channel (announce member_added)."""
    full: bool = False
    """True when the channel already has the maximum number of members (join refused)."""


class Bus(Protocol):
    node_id: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None:
        """Raise when the bus cannot be used (Redis unreachable)."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Deliver ``payload`` to the handlers subscribed to ``topic`` on every other node.

        Never blocks: messages are sent in the order published; when the bus cannot keep up
        (Redis unreachable) the excess is dropped and logged rather than held."""

    async def subscribe(self, topic: str, handler: MessageHandler) -> None: ...

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        """Called (on one surviving node) with what each dead node left behind."""

    async def presence_join(
        self, channel: str, socket_id: str, user_id: str, user_info: str, max_members: int
    ) -> PresenceJoin: ...

    async def presence_leave(self, channel: str, socket_id: str) -> str | None:
        """Remove a connection; return its user_id when that was the user's last one."""

    async def presence_members(self, channel: str) -> dict[str, str]:
        """user_id -> user_info (JSON text) of every member, cluster-wide."""

    async def occupancy_add(self, channel: str, delta: int) -> int:
        """Change a channel's cluster-wide subscription count; return the new count."""

    async def occupancy(self) -> dict[str, int]:
        """Subscription count of every occupied channel, cluster-wide."""


# --- in-process -------------------------------------------------------------------------


class InMemoryNetwork:
    """State shared by the InMemoryBus nodes of one process (normally just one node)."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[tuple[str, MessageHandler]]] = {}
        self.conns: dict[str, dict[str, str]] = {}
        """channel -> socket_id -> user_id"""
        self.members: dict[str, dict[str, tuple[int, str]]] = {}
        """channel -> user_id -> (connection count, user_info)"""
        self.occupancy: dict[str, int] = {}


class InMemoryBus:
    """A bus inside one process. Nodes sharing an :class:`InMemoryNetwork` see each other."""

    def __init__(self, network: InMemoryNetwork | None = None) -> None:
        self.node_id = secrets.token_hex(6)
        self._net = network or InMemoryNetwork()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        for topic, handlers in list(self._net.handlers.items()):
            self._net.handlers[topic] = [h for h in handlers if h[0] != self.node_id]

    async def ping(self) -> None:
        return None

    def publish(self, topic: str, payload: bytes) -> None:
        for node, handler in self._net.handlers.get(topic, ()):
            if node != self.node_id:
                handler(payload)

    async def subscribe(self, topic: str, handler: MessageHandler) -> None:
        self._net.handlers.setdefault(topic, []).append((self.node_id, handler))

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        """Nodes of one process never die alone."""

    async def presence_join(
        self, channel: str, socket_id: str, user_id: str, user_info: str, max_members: int
    ) -> PresenceJoin:
        conns = self._net.conns.setdefault(channel, {})
        members = self._net.members.setdefault(channel, {})
        if socket_id in conns:
            return PresenceJoin(added=False)
        current = members.get(user_id)
        if current is None and len(members) >= max_members:
            return PresenceJoin(added=False, full=True)
        conns[socket_id] = user_id
        if current is None:
            members[user_id] = (1, user_info)
            return PresenceJoin(added=True)
        members[user_id] = (current[0] + 1, current[1])
        return PresenceJoin(added=False)

    async def presence_leave(self, channel: str, socket_id: str) -> str | None:
        conns = self._net.conns.get(channel)
        if not conns or socket_id not in conns:
            return None
        user_id = conns.pop(socket_id)
        members = self._net.members[channel]
        count, info = members[user_id]
        if not conns:
            del self._net.conns[channel]
        if count > 1:
            members[user_id] = (count - 1, info)
            return None
        del members[user_id]
        if not members:
            del self._net.members[channel]
        return user_id

    async def presence_members(self, channel: str) -> dict[str, str]:
        return {uid: info for uid, (_n, info) in self._net.members.get(channel, {}).items()}

    async def occupancy_add(self, channel: str, delta: int) -> int:
        count = self._net.occupancy.get(channel, 0) + delta
        if count > 0:
            self._net.occupancy[channel] = count
        else:
            self._net.occupancy.pop(channel, None)
            count = 0
        return count

    async def occupancy(self) -> dict[str, int]:
        return dict(self._net.occupancy)


# --- Redis ------------------------------------------------------------------------------

_JOIN = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local n = redis.call('HGET', KEYS[2], ARGV[2])
if not n and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[1])
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  return 1
end
return 0
"""

_LEAVE = """
local u = redis.call('HGET', KEYS[1], ARGV[1])
if not u then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[2])
if redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then
  redis.call('HDEL', KEYS[2], u)
  redis.call('HDEL', KEYS[3], u)
  return u
end
return false
"""

_OCCUPANCY = """
local c = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if c <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) c = 0 end
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return c
"""

_SEP = "\x1f"
CLOSE_TIMEOUT_S = 5.0
"""Closing never waits longer than this on Redis."""


class RedisBus:
    """Redis pub/sub for messages; Redis hashes (updated by Lua scripts) for cluster state."""

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
        self._origin = self.node_id.encode() + b"|"
        self._outbound: deque[tuple[str, bytes]] = deque()
        self._outbound_ready = asyncio.Event()
        self._max_outbound = max_outbound
        self.dropped = 0
        self._stopping = False
        self._join: Any = self._redis.register_script(_JOIN)
        self._leave: Any = self._redis.register_script(_LEAVE)
        self._occ: Any = self._redis.register_script(_OCCUPANCY)

    # keys
    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._beat()
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="bus-heartbeat"))
        self._tasks.append(asyncio.create_task(self._publisher(), name="bus-publisher"))

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
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
        self._tasks.clear()

    async def _close_connections(self) -> None:
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await asyncio.wait_for(self._pubsub.aclose(), CLOSE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._redis.aclose(), CLOSE_TIMEOUT_S)

    async def ping(self) -> None:
        await self._redis.ping()

    def publish(self, topic: str, payload: bytes) -> None:
        if len(self._outbound) >= self._max_outbound:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("bus.publish_dropped", dropped=self.dropped)
            return
        self._outbound.append((self._k("t", topic), self._origin + payload))
        self._outbound_ready.set()

    async def _publisher(self) -> None:
        """Send queued messages in order, many per round trip."""
        while not self._stopping:
            await self._outbound_ready.wait()
            self._outbound_ready.clear()
            while self._outbound:
                batch = [self._outbound.popleft() for _ in range(min(len(self._outbound), 500))]
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.dropped += len(batch)
                    log.warning("bus.publish_failed", error=str(exc), dropped=len(batch))
                    await asyncio.sleep(0.2)

    async def subscribe(self, topic: str, handler: MessageHandler) -> None:
        first = not self._handlers
        self._handlers.setdefault(topic, []).append(handler)
        await self._pubsub.subscribe(self._k("t", topic))
        if first:
            self._tasks.append(asyncio.create_task(self._listen(), name="bus-listen"))

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        self._loss_handlers.append(handler)

    async def _listen(self) -> None:
        prefix_len = len(self._k("t", ""))
        while not self._stopping:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus.listen_failed", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            if data.startswith(self._origin):
                continue
            _node, _sep, payload = data.partition(b"|")
            topic = message["channel"].decode()[prefix_len:]
            for handler in self._handlers.get(topic, ()):
                try:
                    handler(payload)
                except Exception:
                    log.exception("bus.handler_failed", topic=topic)

    # --- liveness ------------------------------------------------------------------
    async def _beat(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(self._k("nodes"), self.node_id)
        pipe.set(self._k("alive", self.node_id), b"1", px=int(self._timeout * 1000))
        await pipe.execute()

    async def _heartbeat(self) -> None:
        interval = max(self._timeout / 3, 0.05)
        while not self._stopping:
            await asyncio.sleep(interval)
            try:
                await self._beat()
                await self._reap_dead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus.heartbeat_failed", error=str(exc))

    async def _reap_dead(self) -> None:
        nodes = await self._redis.smembers(self._k("nodes"))
        for raw in nodes:
            node = raw.decode()
            if node == self.node_id or await self._redis.exists(self._k("alive", node)):
                continue
            loss = await self._reap(node)
            if loss is None:
                continue
            log.warning(
                "bus.node_lost",
                node=node,
                members=len(loss.removed_members),
                vacated=len(loss.vacated),
            )
            for handler in self._loss_handlers:
                try:
                    await handler(loss)
                except Exception:
                    log.exception("bus.node_loss_handler_failed")

    async def _reap(self, node: str) -> NodeLoss | None:
        """Remove a node's state; only the caller whose SREM succeeds does it."""
        if not await self._redis.srem(self._k("nodes"), node):
            return None
        loss = NodeLoss(node_id=node)
        pres_key = self._k("node", node, "pres")
        for raw_field in await self._redis.hkeys(pres_key):
            channel, _sep, socket_id = raw_field.decode().partition(_SEP)
            user = await self._leave(
                keys=self._presence_keys(channel, node), args=[socket_id, raw_field]
            )
            if user:
                loss.removed_members.append((channel, user.decode()))
        occ_key = self._k("node", node, "occ")
        for raw_channel, raw_count in (await self._redis.hgetall(occ_key)).items():
            channel = raw_channel.decode()
            left = await self._occ(keys=[self._k("occ"), occ_key], args=[channel, -int(raw_count)])
            if int(left) == 0:
                loss.vacated.append(channel)
        await self._redis.delete(pres_key, occ_key)
        return loss

    # --- presence and occupancy ------------------------------------------------------
    def _presence_keys(self, channel: str, node: str | None = None) -> list[str]:
        return [
            self._k("pres", channel, "conns"),
            self._k("pres", channel, "users"),
            self._k("pres", channel, "info"),
            self._k("node", node or self.node_id, "pres"),
        ]

    async def presence_join(
        self, channel: str, socket_id: str, user_id: str, user_info: str, max_members: int
    ) -> PresenceJoin:
        result = await self._join(
            keys=self._presence_keys(channel),
            args=[socket_id, user_id, user_info, max_members, f"{channel}{_SEP}{socket_id}"],
        )
        return PresenceJoin(added=int(result) == 1, full=int(result) == -1)

    async def presence_leave(self, channel: str, socket_id: str) -> str | None:
        user = await self._leave(
            keys=self._presence_keys(channel), args=[socket_id, f"{channel}{_SEP}{socket_id}"]
        )
        return user.decode() if user else None

    async def presence_members(self, channel: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self._k("pres", channel, "info"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def occupancy_add(self, channel: str, delta: int) -> int:
        count = await self._occ(
            keys=[self._k("occ"), self._k("node", self.node_id, "occ")], args=[channel, delta]
        )
        return int(count)

    async def occupancy(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._k("occ"))
        return {k.decode(): int(v) for k, v in raw.items() if int(v) > 0}

