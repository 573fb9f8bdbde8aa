"""The hub: connections, channels, subscriptions, presence, client events and fan-out.

Each connection has a bounded outbox drained by its own writer (see ``signaling.ws``): the hub
only appends ready-made frame text to outboxes, so one slow client can never stall a channel;
a client whose outbox is full is disconnected with close code 4101.

A frame is serialised once per event and the same text goes to every subscriber. Events reach
subscribers on this node directly and other nodes through the bus; presence members and channel
occupancy are kept in the bus so they are right across the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

import structlog

from config.settings import PusherSettings, Secret
from signaling import protocol as p
from signaling.admission import ClientEventLimit, ConnectionGate
from signaling.auth import verify_channel, verify_request, verify_user
from signaling.bus import Bus, BusUnavailable, NodeLoss
from signaling.connection import Connection, HubLimits
from signaling.persisted import PersistedChannels, PersistNothing, Sender
from signaling.webhooks import Webhooks

log = structlog.get_logger(__name__)

__all__ = ["Connection", "Hub", "HubLimits"]

EVENTS_TOPIC = "channel-events"
UNAVAILABLE_STATUS = 503
"""``status`` of the subscription_error sent while the bus is down: try again later."""


class Hub:
    def __init__(
        self,
        settings: PusherSettings,
        secret: Secret,
        bus: Bus,
        limits: HubLimits | None = None,
        *,
        persisted: PersistedChannels | None = None,
        gate: ConnectionGate | None = None,
        client_event_limit: ClientEventLimit | None = None,
    ) -> None:
        """``persisted`` decides which client events are kept (see ``signaling.persisted``);
        by default none is. ``gate`` admits websocket connections (per client address) and
        ``client_event_limit`` is a per-user allowance of client events on top of the
        per-connection one (see ``signaling.admission``); without them neither applies."""
        self.settings = settings
        self.limits = limits or HubLimits()
        self._secret = secret
        self.bus = bus
        self._persisted: PersistedChannels = persisted or PersistNothing()
        self.gate = gate
        self._user_event_limit = client_event_limit
        self._conns: dict[str, Connection] = {}
        self._channels: dict[str, set[Connection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.webhooks = Webhooks(
            settings.webhook_urls, settings.key, secret.reveal(), self.limits.webhooks
        )
        self._stats = {
            "messages_in": 0,
            "messages_out": 0,
            "client_events_rejected": 0,
            "client_events_rate_limited": 0,
        }

    # --- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.subscribe(EVENTS_TOPIC, self._on_bus_message)
        self.bus.on_node_lost(self._on_node_lost)
        self.bus.on_recovered(self._on_bus_recovered)
        await self.webhooks.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="hub-sweeper")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for conn in list(self._conns.values()):
            conn.close(p.CloseCode.RECONNECT, "Server shutting down")
            await self.disconnect(conn)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.webhooks.close()

    def stats(self) -> dict[str, int]:
        return {
            "connections": len(self._conns),
            "channels": len(self._channels),
            **self._stats,
        }

    # --- connections --------------------------------------------------------------------
    def connect(self) -> Connection:
        socket_id = p.new_socket_id()
        while socket_id in self._conns:
            socket_id = p.new_socket_id()
        conn = Connection(socket_id, self.settings.max_outbox, self.limits.client_event_burst)
        self._conns[socket_id] = conn
        conn.push(p.connection_established(socket_id, self.settings.activity_timeout_s))
        return conn

    async def disconnect(self, conn: Connection) -> None:
        """Forget a connection: leave its channels (member_removed, channel_vacated)."""
        if self._conns.pop(conn.socket_id, None) is None:
            return
        if not conn.closed:
            conn.close(1000, "")
        for channel in list(conn.channels):
            await self._leave(conn, channel)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- inbound frames -----------------------------------------------------------------
    async def handle(self, conn: Connection, text: str) -> None:
        """Act on one text frame from a client. Bad frames get an error frame, never a crash."""
        self._stats["messages_in"] += 1
        conn.last_seen = time.monotonic()
        conn.ping_sent = None
        try:
            frame = p.parse_frame(text)
        except p.ProtocolError as exc:
            conn.push(p.error(str(exc)))
            return
        event = frame.event
        try:
            if event == "pusher:ping":
                conn.push(p.pong())
            elif event == "pusher:pong":
                pass
            elif event == "pusher:subscribe":
                await self._subscribe(conn, p.parse_subscribe(frame.data))
            elif event == "pusher:unsubscribe":
                await self._unsubscribe(conn, frame.data)
            elif event == "pusher:signin":
                self._signin(conn, frame.data)
            elif event.startswith("client-"):
                await self._client_event(conn, frame)
            else:
                conn.push(p.error(f"Unsupported event '{event[:64]}'"))
        except p.ProtocolError as exc:
            conn.push(p.error(str(exc)))
        except BusUnavailable as exc:
            log.warning("hub.bus_unavailable", client_event=event[:64], error=str(exc))
            conn.push(p.error("Service temporarily unavailable", p.CloseCode.BUS_UNAVAILABLE))
        except Exception:
            # A handler bug must never take the socket down with it.
            log.exception("hub.handle_failed", client_event=event[:64])
            conn.push(p.error("Internal error"))

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

    def _signin(self, conn: Connection, data: Any) -> None:
        """``pusher:signin`` (user authentication): answer signin_success or refuse (4009)."""
        if not isinstance(data, dict):
            raise p.ProtocolError("pusher:signin needs a data object")
        user_data = data.get("user_data")
        if not isinstance(user_data, str) or not verify_user(
            self.settings.key, self._secret.reveal(), conn.socket_id, user_data, data.get("auth")
        ):
            conn.push(p.error("Invalid signin signature", p.CloseCode.UNAUTHORIZED))
            conn.close(p.CloseCode.UNAUTHORIZED, "Invalid signin signature")
            return
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            signed_in = json.loads(user_data).get("id")
            if isinstance(signed_in, str) and signed_in:
                conn.user_id = signed_in
        conn.push(p.signin_success(user_data))

    # --- client events ------------------------------------------------------------------
    def _reject(self, conn: Connection, message: str, code: int | None = None) -> None:
        self._stats["client_events_rejected"] += 1
        conn.push(p.error(message, code))

    def _take_token(self, conn: Connection) -> bool:
        now = time.monotonic()
        limits = self.limits
        conn.tokens = min(
            float(limits.client_event_burst),
            conn.tokens + (now - conn.tokens_at) * limits.client_events_per_s,
        )
        conn.tokens_at = now
        if conn.tokens < 1:
            return False
        conn.tokens -= 1
        return True

    async def _user_allows(self, conn: Connection, channel: str) -> bool:
        """The per-user allowance: the sender is the presence member of this channel, or of
        any presence channel of the connection, or who it signed in as; a connection known as
        nobody has only its per-connection limit. A failing limiter lets the event through."""
        if self._user_event_limit is None:
            return True
        user_id = conn.channels.get(channel) or conn.user_id
        if user_id is None:
            user_id = next((uid for uid in conn.channels.values() if uid is not None), None)
        if user_id is None:
            return True
        try:
            return await self._user_event_limit.allow(user_id)
        except Exception as exc:  # fail open, as the HTTP limits do
            log.warning("hub.client_event_limit_failed", error=type(exc).__name__)
            return True

    def _refuse_rate(self, conn: Connection, per_s: float) -> None:
        self._stats["client_events_rate_limited"] += 1
        self._reject(
            conn,
            f"Client event rejected due to rate limit ({per_s:g} per second)",
            p.CloseCode.CLIENT_EVENT_RATE_LIMIT,
        )

    async def _client_event(self, conn: Connection, frame: p.Frame) -> None:
        channel = frame.channel
        if channel is None or channel not in conn.channels:
            self._reject(conn, "Client event rejected: not subscribed to the channel")
            return
        if not p.allows_client_events(channel):
            self._reject(
                conn, "Client event rejected: only private and presence channels allow them"
            )
            return
        if not self.bus.available:
            self._reject(
                conn,
                "Client event rejected: the hub cannot reach its message bus, try again shortly",
                p.CloseCode.BUS_UNAVAILABLE,
            )
            return
        if not self._take_token(conn):
            self._refuse_rate(conn, self.limits.client_events_per_s)
            return
        if p.data_size(frame.raw_data) > self.limits.max_client_event_bytes:
            self._reject(
                conn,
                f"Client event rejected: data larger than {self.limits.max_client_event_bytes}"
                " bytes",
            )
            return
        if not await self._user_allows(conn, channel):
            self._refuse_rate(conn, self.limits.client_events_per_user_s)
            return
        if conn.closed or channel not in conn.channels:
            return  # left while the shared limit was asked
        review = self._persisted.review(channel, frame.event, frame.data)
        if review.refusal is not None:
            self._reject(
                conn,
                f"Client event refused: {review.refusal}",
                p.CloseCode.CLIENT_EVENT_REFUSED,
            )
            return
        user_id = conn.channels[channel]
        text = p.channel_event(channel, frame.event, frame.raw_data, user_id)
        self._broadcast(channel, text, exclude=conn.socket_id)
        if self.webhooks.enabled:
            raw = frame.raw_data
            fields: dict[str, Any] = {
                "channel": channel,
                "event": frame.event,
                "data": raw if isinstance(raw, str) else p.encode(raw),
                "socket_id": conn.socket_id,
            }
            if user_id is not None:
                fields["user_id"] = user_id
            self.webhooks.emit("client_event", **fields)
        if review.keep:
            self._spawn(self._persist(channel, frame.event, frame.data, user_id))

    async def _persist(self, channel: str, event: str, data: Any, user_id: str | None) -> None:
        """Keep an event the app asked for, with the sender's presence info (its name)."""
        try:
            info: dict[str, Any] = {}
            if user_id is not None:
                members = await self.bus.presence_members(channel)
                with contextlib.suppress(ValueError, TypeError):
                    decoded = json.loads(members.get(user_id, "null"))
                    if isinstance(decoded, dict):
                        info = decoded
            await self._persisted.persist(channel, event, data, Sender(user_id, info))
        except Exception:
            log.exception("hub.persist_failed", channel=channel, client_event=event)

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
        self.bus.publish(EVENTS_TOPIC, f"{channel}\n{exclude or ''}\n{frame}".encode())

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

    # --- HTTP API -----------------------------------------------------------------------
    def verify_api_request(
        self, method: str, path: str, params: dict[str, str], body: bytes
    ) -> None:
        """Check an HTTP API request's signature (raises ``signaling.auth.RequestAuthError``)."""
        verify_request(self.settings.key, self._secret.reveal(), method, path, params, body)

    async def trigger(
        self, channels: Iterable[str], event: str, data: Any, socket_id: str | None = None
    ) -> None:
        """Publish a server event (HTTP API) to channels, except to ``socket_id``."""
        await self.trigger_many([(list(channels), event, data, socket_id)])

    async def trigger_many(self, events: list[tuple[list[str], str, Any, str | None]]) -> None:
        """Publish server events (channels, name, data, except socket_id) in order.

        Raises :class:`BusUnavailable` when the other nodes cannot be reached: nothing is
        sent when that is known up front; when Redis fails mid-way, this node's own
        subscribers may already have the events (a retry can repeat them here)."""
        if not self.bus.available:
            raise BusUnavailable("message bus unavailable")
        payloads: list[bytes] = []
        for channels, event, data, socket_id in events:
            for channel in channels:
                frame = p.channel_event(channel, event, data)
                self._deliver_local(channel, frame, socket_id)
                payloads.append(f"{channel}\n{socket_id or ''}\n{frame}".encode())
        await self.bus.publish_confirmed(EVENTS_TOPIC, payloads)

    async def occupied(self) -> dict[str, int]:
        """Channel -> subscription count, cluster-wide."""
        return await self.bus.occupancy()

    async def members(self, channel: str) -> dict[str, Any]:
        return await self._members(channel)

    # --- liveness -----------------------------------------------------------------------
    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_interval_s)
            self.check_activity(time.monotonic())

    def check_activity(self, now: float) -> None:
        """Ping connections silent for activity_timeout; close those that never answer."""
        idle = self.settings.activity_timeout_s
        pong_timeout = self.limits.pong_timeout_s
        ping = p.ping()
        for conn in list(self._conns.values()):
            if conn.ping_sent is not None:
                if now - conn.ping_sent > pong_timeout:
                    conn.close(p.CloseCode.PONG_NOT_RECEIVED, "Pong reply not received")
            elif now - conn.last_seen > idle:
                conn.ping_sent = now
                conn.push(ping)
