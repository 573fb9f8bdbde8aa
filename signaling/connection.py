"""A client connection as the hub sees it (a bounded outbox drained by ``signaling.ws``,
its subscriptions and client-event tokens) and the limits the hub applies to every one."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from signaling import protocol as p
from signaling.webhooks import WebhookPolicy


@dataclass(frozen=True)
class HubLimits:
    """Protocol limits and timers; the defaults are Pusher's."""

    pong_timeout_s: float = 30.0
    """After pinging a silent client, close it (4201) if nothing arrives within this time."""
    client_events_per_s: float = 10.0
    client_event_burst: int = 10
    client_events_per_user_s: float = 10.0
    """The per-user allowance's rate, for the refusal message only (the allowance itself is
    the hub's ``client_event_limit``)."""
    max_client_event_bytes: int = p.MAX_CLIENT_EVENT_BYTES
    max_presence_members: int = p.MAX_PRESENCE_MEMBERS
    max_channels_per_connection: int = 100
    sweep_interval_s: float = 1.0
    """How often idle connections are checked."""
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)


class Connection:
    """One client connection as the hub sees it. ``signaling.ws`` pumps its outbox."""

    __slots__ = (
        "_on_close",
        "channels",
        "close_code",
        "close_reason",
        "deferred",
        "direct",
        "last_seen",
        "max_outbox",
        "outbox",
        "pending",
        "ping_sent",
        "socket_id",
        "tokens",
        "tokens_at",
        "user_id",
        "wakeup",
    )

    def __init__(self, socket_id: str, max_outbox: int, burst: int) -> None:
        self.socket_id = socket_id
        self.max_outbox = max_outbox
        self.outbox: deque[str] = deque()
        self.wakeup = asyncio.Event()
        self.channels: dict[str, str | None] = {}
        """Subscribed channel -> presence user_id (None on other channels)."""
        self.pending: set[str] = set()
        self.deferred: dict[str, p.Subscribe] = {}
        """Subscriptions refused while the bus was down, completed when it recovers."""
        self.close_code: int | None = None
        self.close_reason = ""
        self.last_seen = time.monotonic()
        self.ping_sent: float | None = None
        self.tokens = float(burst)
        self.tokens_at = self.last_seen
        self._on_close: Callable[[Connection], None] | None = None
        self.user_id: str | None = None
        """Who the connection signed in as (``pusher:signin``), if it did."""
        self.direct: Callable[[str], bool] | None = None
        """Writes a frame at once when the socket can take it (set by signaling.ws); frames go
        through the outbox when it cannot, or when older frames are still queued."""

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def on_close(self, callback: Callable[[Connection], None]) -> None:
        self._on_close = callback

    def push(self, frame: str) -> bool:
        """Queue a frame; disconnect the client (4101) when its outbox is full."""
        if self.close_code is not None:
            return False
        if not self.outbox and self.direct is not None and self.direct(frame):
            return True
        if len(self.outbox) >= self.max_outbox:
            self.close(p.CloseCode.SLOW_CLIENT, "Client too slow: outbox full")
            return False
        self.outbox.append(frame)
        if not self.wakeup.is_set():
            self.wakeup.set()
        return True

    def close(self, code: int, reason: str) -> None:
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        self.outbox.clear()
        self.wakeup.set()
        if self._on_close is not None:
            self._on_close(self)
