"""Client events (``client-*`` frames): checks, rate limits, fan-out and persistence.

A mixin of :class:`signaling.hub.Hub`. An event is refused with an error frame (and counted)
unless its sender is subscribed to a private or presence channel, the bus is up, the
per-connection and per-user allowances have room, the data is small enough and the channel's
persistence policy (``signaling.persisted``) accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import structlog

from signaling import protocol as p
from signaling.admission import ClientEventLimit
from signaling.connection import Connection
from signaling.hub_channels import ChannelBook
from signaling.persisted import PersistedChannels, Sender

log = structlog.get_logger(__name__)


class ClientEvents(ChannelBook):
    # Set by Hub.__init__.
    _persisted: PersistedChannels
    _user_event_limit: ClientEventLimit | None
    _tasks: set[asyncio.Task[Any]]

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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
