"""The hub's channel book: subscriptions, presence, occupancy and fan-out.

A mixin of :class:`signaling.hub.Hub`, which owns the state declared below. Events reach
subscribers on this node directly and other nodes through the bus (topic
:data:`EVENTS_TOPIC`); presence members and channel occupancy are kept in the bus so they are
right across the cluster.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import structlog

from config.settings import PusherSettings, Secret
from signaling import protocol as p
from signaling.auth import verify_channel
from signaling.bus import Bus, BusUnavailable, NodeLoss
from signaling.connection import Connection, HubLimits
from signaling.webhooks import Webhooks

log = structlog.get_logger(__name__)

EVENTS_TOPIC = "channel-events"
UNAVAILABLE_STATUS = 503
"""``status`` of the subscription_error sent while the bus is down: try again later."""


def bus_payload(channel: str, exclude: str | None, frame: str) -> bytes:
    """A frame for the other nodes: the channel, the socket to leave out (or nothing) and the
    frame text, one per line; :meth:`ChannelBook._on_bus_message` reads it back."""
    return f"{channel}\n{exclude or ''}\n{frame}".encode()


class ChannelBook:
    """Which connection is in which channel, here and (through the bus) cluster-wide."""

    # Set by Hub.__init__.
    settings: PusherSettings
    limits: HubLimits
    bus: Bus
    webhooks: Webhooks
    _secret: Secret
    _conns: dict[str, Connection]
    _channels: dict[str, set[Connection]]
    _stats: dict[str, int]

    # --- subscriptions ------------------------------------------------------------------
    async def _subscribe(self, conn: Connection, sub: p.Subscribe) -> None:
        channel = sub.channel
        kind = p.channel_kind(channel)
        if kind is not p.ChannelKind.PUBLIC:
            channel_data = sub.channel_data if kind is p.ChannelKind.PRESENCE else None
            if not verify_channel(
                self.settings.key,
                self._secret.reveal(),
                conn.socket_id,
                channel,
                sub.auth,
                channel_data,
            ):
                conn.push(
                    p.subscription_error(
                        channel,
                        "AuthError",
                        "Invalid signature: expected HMAC-SHA256 of "
                        f"'{conn.socket_id}:{channel}"
                        f"{':<channel_data>' if channel_data is not None else ''}'",
                        401,
                    )
                )
                return
        if channel in conn.pending:
            return
        if channel in conn.channels:
            await self._resend_succeeded(conn, channel)
            return
        if len(conn.channels) >= self.limits.max_channels_per_connection:
            conn.push(p.subscription_error(channel, "LimitReached", "Too many channels", 403))
            return
        conn.deferred.pop(channel, None)
        if not self.bus.available:
            self._refuse_unavailable(conn, sub)
            return
        conn.pending.add(channel)
        try:
            if kind is p.ChannelKind.PRESENCE:
                await self._join_presence(conn, channel, sub.channel_data)
            else:
                self._register(conn, channel, None)
                conn.push(p.subscription_succeeded(channel))
            if channel in conn.channels:
                await self._occupy(channel, +1)
        except BusUnavailable:
            if channel not in conn.channels:
                self._refuse_unavailable(conn, sub)
            # Otherwise the subscription stands; the bus re-asserts its count on recovery.
        finally:
            conn.pending.discard(channel)
        if conn.closed and channel in conn.channels:
            await self._leave(conn, channel)

    def _refuse_unavailable(self, conn: Connection, sub: p.Subscribe) -> None:
        """Refuse a subscription while the bus is down; the connection stays open, and the
        subscription completes (``subscription_succeeded``) when the bus recovers.

        ``pusher:subscription_error`` rather than a close code: pusher-js hands it to the
        app's ``pusher:subscription_error`` handler and keeps the channel pending, so the
        later ``subscription_succeeded`` completes it as if it had been slow. A close code in
        the 4200 range would make pusher-js reconnect at once, in a loop, while Redis is
        down; a ``pusher:error`` frame is only logged by pusher-js, whatever its code."""
        channel = sub.channel
        if len(conn.channels) + len(conn.deferred) < self.limits.max_channels_per_connection:
            conn.deferred[channel] = sub
        conn.push(
            p.subscription_error(
                channel,
                "ServiceUnavailable",
                "The hub cannot reach its message bus; subscribe again shortly",
                UNAVAILABLE_STATUS,
            )
        )

    async def _join_presence(
        self, conn: Connection, channel: str, channel_data: str | None
    ) -> None:
        try:
            member = p.parse_channel_data(channel_data)
        except p.ProtocolError as exc:
            conn.push(p.subscription_error(channel, "AuthError", str(exc), 400))
            return
        info = p.encode(member.user_info)
        joined = await self.bus.presence_join(
            channel, conn.socket_id, member.user_id, info, self.limits.max_presence_members
        )
        if joined.full:
            conn.push(
                p.subscription_error(
                    channel,
                    "LimitReached",
                    f"Presence channel is full ({self.limits.max_presence_members} members)",
                    403,
                )
            )
            return
        try:
            members = await self._members(channel)
        except BusUnavailable:
            with contextlib.suppress(BusUnavailable):
                await self.bus.presence_leave(channel, conn.socket_id)
            raise
        self._register(conn, channel, member.user_id)
        conn.push(p.subscription_succeeded(channel, members))
        if joined.added:
            frame = p.member_added(channel, member.user_id, member.user_info)
            self._broadcast(channel, frame, exclude=conn.socket_id)
            self.webhooks.emit("member_added", channel=channel, user_id=member.user_id)

    async def _members(self, channel: str) -> dict[str, Any]:
        members = await self.bus.presence_members(channel)
        return {uid: json.loads(info) for uid, info in members.items()}

    async def _resend_succeeded(self, conn: Connection, channel: str) -> None:
        if p.channel_kind(channel) is p.ChannelKind.PRESENCE:
            conn.push(p.subscription_succeeded(channel, await self._members(channel)))
        else:
            conn.push(p.subscription_succeeded(channel))

    def _register(self, conn: Connection, channel: str, user_id: str | None) -> None:
        conn.channels[channel] = user_id
        self._channels.setdefault(channel, set()).add(conn)

    async def _occupy(self, channel: str, delta: int) -> None:
        try:
            count = await self.bus.occupancy_add(channel, delta)
        except BusUnavailable:
            return  # the bus keeps this node's count and writes it back on recovery
        if delta > 0 and count == delta:
            self.webhooks.emit("channel_occupied", channel=channel)
        elif delta < 0 and count == 0:
            self.webhooks.emit("channel_vacated", channel=channel)

    async def _unsubscribe(self, conn: Connection, data: Any) -> None:
        channel = data.get("channel") if isinstance(data, dict) else None
        if not p.is_valid_channel_name(channel):
            raise p.ProtocolError("pusher:unsubscribe needs a valid channel")
        assert isinstance(channel, str)
        conn.deferred.pop(channel, None)
        await self._leave(conn, channel)

    async def _leave(self, conn: Connection, channel: str) -> None:
        if channel not in conn.channels:
            return
        user_id = conn.channels.pop(channel)
        local = self._channels.get(channel)
        if local is not None:
            local.discard(conn)
            if not local:
                del self._channels[channel]
        if user_id is not None:
            try:
                gone = await self.bus.presence_leave(channel, conn.socket_id)
            except BusUnavailable:
                gone = None  # removed from Redis, and announced, when the bus recovers
            if gone is not None:
                self._broadcast(channel, p.member_removed(channel, gone))
                self.webhooks.emit("member_removed", channel=channel, user_id=gone)
        await self._occupy(channel, -1)

    # --- fan-out ------------------------------------------------------------------------
    def _deliver_local(self, channel: str, frame: str, exclude: str | None) -> None:
        subscribers = self._channels.get(channel)
        if not subscribers:
            return
        sent = 0
        for conn in tuple(subscribers):
            if conn.socket_id != exclude and conn.push(frame):
                sent += 1
        self._stats["messages_out"] += sent

    def _broadcast(self, channel: str, frame: str, exclude: str | None = None) -> None:
        """Send a frame to a channel's subscribers on every node, in order."""
        self._deliver_local(channel, frame, exclude)
        self.bus.publish(EVENTS_TOPIC, bus_payload(channel, exclude, frame))

    def _on_bus_message(self, payload: bytes) -> None:
        try:
            channel, exclude, frame = payload.decode().split("\n", 2)
        except ValueError:
            log.warning("hub.bad_bus_message")
            return
        self._deliver_local(channel, frame, exclude or None)

    async def _on_bus_recovered(self) -> None:
        """Complete the subscriptions refused during the outage."""
        for conn in list(self._conns.values()):
            for sub in list(conn.deferred.values()):
                if not self.bus.available:
                    return  # down again: the next recovery tries again
                if conn.closed:
                    break
                try:
                    await self._subscribe(conn, sub)
                except Exception:
                    log.exception("hub.resubscribe_failed", channel=sub.channel)

    async def _on_node_lost(self, loss: NodeLoss) -> None:
        for channel, user_id in loss.removed_members:
            self._broadcast(channel, p.member_removed(channel, user_id))
            self.webhooks.emit("member_removed", channel=channel, user_id=user_id)
        for channel in loss.vacated:
            self.webhooks.emit("channel_vacated", channel=channel)
