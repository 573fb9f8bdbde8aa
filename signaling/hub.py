"""The hub: connections, inbound frames, the HTTP API's entry points and liveness.

Each connection has a bounded outbox drained by its own writer (see ``signaling.ws``): the hub
only appends ready-made frame text to outboxes, so one slow client can never stall a channel;
a client whose outbox is full is disconnected with close code 4101.

A frame is serialised once per event and the same text goes to every subscriber. Channels,
presence, occupancy and fan-out are in ``signaling.hub_channels``; client events in
``signaling.hub_client_events``.
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
from signaling.auth import verify_request, verify_user
from signaling.bus import Bus, BusUnavailable
from signaling.connection import Connection, HubLimits
from signaling.hub_channels import EVENTS_TOPIC, UNAVAILABLE_STATUS, bus_payload
from signaling.hub_client_events import ClientEvents
from signaling.persisted import PersistedChannels, PersistNothing
from signaling.webhooks import Webhooks

log = structlog.get_logger(__name__)

__all__ = ["EVENTS_TOPIC", "UNAVAILABLE_STATUS", "Connection", "Hub", "HubLimits"]


class Hub(ClientEvents):
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
                payloads.append(bus_payload(channel, socket_id, frame))
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
