"""Messages over Redis pub/sub: fire-and-forget and confirmed publishes, and dispatch.

A part of :class:`signaling.redis_bus.RedisBus`. Publishes are queued and sent in order by one
task, many per round trip; a confirmed publish succeeds only when every live peer node heard it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from signaling.bus import BusUnavailable, MessageHandler
from signaling.redis_base import RedisBusBase

log = structlog.get_logger(__name__)

CONFIRM_TIMEOUT_S = 5.0
"""How long a confirmed publish (or the subscribe confirmation) may take before it fails."""


class RedisMessages(RedisBusBase):
    # --- messages --------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> None:
        if len(self._outbound) >= self._max_outbound:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("bus.publish_dropped", dropped=self.dropped)
            return
        self._outbound.append((self._k("t", topic), self._origin + payload, None))
        self._outbound_ready.set()

    async def publish_confirmed(self, topic: str, payloads: list[bytes]) -> None:
        if not self._ready:
            raise BusUnavailable("Redis is unavailable")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for payload in payloads:
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            self._outbound.append((self._k("t", topic), self._origin + payload, future))
        self._outbound_ready.set()
        try:
            await asyncio.wait_for(asyncio.gather(*futures), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            raise BusUnavailable("Redis did not confirm the publish in time") from None

    async def _publisher(self) -> None:
        """Send queued messages in order, many per round trip."""
        while not self._stopping:
            await self._outbound_ready.wait()
            self._outbound_ready.clear()
            while self._outbound:
                batch = [self._outbound.popleft() for _ in range(min(len(self._outbound), 500))]
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, data, _future in batch:
                        pipe.publish(channel, data)
                    receivers = await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.dropped += len(batch)
                    log.warning("bus.publish_failed", error=str(exc), dropped=len(batch))
                    for _channel, _data, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(BusUnavailable("Redis is unavailable"))
                    self._mark_down("publish", exc)
                    await asyncio.sleep(0.2)
                    continue
                expected = self._expected_receivers()
                for (_channel, _data, future), heard in zip(batch, receivers, strict=True):
                    if future is None or future.done():
                        continue
                    if int(heard) < expected:
                        future.set_exception(
                            BusUnavailable(f"{heard} of {expected} other nodes listening")
                        )
                    else:
                        future.set_result(None)

    def _expected_receivers(self) -> int:
        """Other nodes seen alive within node_timeout_s: each must hear a confirmed publish."""
        horizon = time.monotonic() - self._timeout
        return sum(1 for seen in self._peers.values() if seen >= horizon)

    async def subscribe(self, topic: str, handler: MessageHandler) -> None:
        new = topic not in self._handlers
        self._handlers.setdefault(topic, []).append(handler)
        if new and self._ready and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(self._k("t", topic))
            except Exception as exc:
                self._mark_down("subscribe", exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data: bytes = message["data"]
        if data.startswith(self._origin):
            return
        _node, _sep, payload = data.partition(b"|")
        topic = message["channel"].decode()[len(self._k("t", "")) :]
        for handler in self._handlers.get(topic, ()):
            try:
                handler(payload)
            except Exception:
                log.exception("bus.handler_failed", topic=topic)

    async def _confirm_subscribed(self, pubsub: Any, expected: int) -> None:
        """Wait until Redis confirmed every subscription: from then on we hear everything."""
        confirmed = 0
        while confirmed < expected:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message.get("type") == "subscribe":
                confirmed += 1
            else:
                self._dispatch(message)
