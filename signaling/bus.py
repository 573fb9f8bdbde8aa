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

:class:`signaling.redis_bus.RedisBus` is the Redis backend. Which backend a node uses is
decided by the composition root (``panamia/backends.py``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

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
RecoveryHandler = Callable[[], Awaitable[None]]


class BusUnavailable(Exception):
    """The bus cannot carry messages now: Redis is down, or the node has not finished
    re-subscribing and re-asserting its state after Redis came back."""


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
        """Raise when the bus cannot be used (Redis unreachable, or not yet subscribed and
        re-asserted after an outage)."""

    @property
    def available(self) -> bool:
        """False while the bus is known to be down or still recovering (no I/O)."""

    async def publish_confirmed(self, topic: str, payloads: list[bytes]) -> None:
        """Publish like ``publish`` (same order) and wait until every payload was handed to
        the other nodes; raise :class:`BusUnavailable` when that cannot be done."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Deliver ``payload`` to the handlers subscribed to ``topic`` on every other node.

        Never blocks: messages are sent in the order published; when the bus cannot keep up
        (Redis unreachable) the excess is dropped and logged rather than held."""

    async def subscribe(self, topic: str, handler: MessageHandler) -> None: ...

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        """Called (on one surviving node) with what each dead node left behind."""

    def on_recovered(self, handler: RecoveryHandler) -> None:
        """Called each time the bus is available again after an outage."""

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

    @property
    def available(self) -> bool:
        return True

    async def publish_confirmed(self, topic: str, payloads: list[bytes]) -> None:
        for payload in payloads:
            self.publish(topic, payload)

    def publish(self, topic: str, payload: bytes) -> None:
        for node, handler in self._net.handlers.get(topic, ()):
            if node != self.node_id:
                handler(payload)

    async def subscribe(self, topic: str, handler: MessageHandler) -> None:
        self._net.handlers.setdefault(topic, []).append((self.node_id, handler))

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        """Nodes of one process never die alone."""

    def on_recovered(self, handler: RecoveryHandler) -> None:
        """An in-process bus is never unavailable."""

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
