"""Signed webhooks, as Pusher sends them.

Events are batched for a moment and POSTed as ``{"time_ms": ..., "events": [...]}`` with the
headers ``X-Pusher-Key`` and ``X-Pusher-Signature`` (hex HMAC-SHA256 of the body under the app
secret) to every configured URL. A failed delivery (network error or non-2xx answer) is retried
with exponential backoff; the queue toward the sender is bounded, so a dead receiver never
holds memory or slows the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
import yarl

from signaling.auth import webhook_signature

log = structlog.get_logger(__name__)


def _safe(url: str) -> str:
    """A URL fit for logs: no user info or query, which may carry tokens."""
    parsed = yarl.URL(url)
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


@dataclass(frozen=True)
class WebhookPolicy:
    batch_window_s: float = 0.05
    """Events arriving within this window go out in one request."""
    max_batch: int = 100
    max_queue: int = 10_000
    """Events waiting to be sent; beyond this the newest are dropped (and logged)."""
    attempts: int = 5
    """Deliveries tried per URL before a batch is given up."""
    backoff_s: float = 1.0
    """First retry delay; doubled after each failure."""
    timeout_s: float = 10.0


class Webhooks:
    def __init__(
        self,
        urls: Sequence[str],
        key: str,
        secret: str,
        policy: WebhookPolicy | None = None,
    ) -> None:
        self._urls = tuple(urls)
        self._key = key
        self._secret = secret
        self._policy = policy or WebhookPolicy()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._policy.max_queue)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self._urls)

    async def start(self) -> None:
        if not self.enabled:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._policy.timeout_s)
        )
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._deliveries):
            task.cancel()
        for task in list(self._deliveries):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def emit(self, name: str, **fields: Any) -> None:
        """Queue one event (``name`` plus fields such as channel, user_id)."""
        if not self.enabled:
            return
        try:
            self._queue.put_nowait({"name": name, **fields})
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("webhook.dropped", event=name, dropped=self.dropped)

    async def _run(self) -> None:
        while True:
            events = [await self._queue.get()]
            deadline = time.monotonic() + self._policy.batch_window_s
            while len(events) < self._policy.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    events.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            body = json.dumps(
                {"time_ms": int(time.time() * 1000), "events": events}, separators=(",", ":")
            ).encode()
            for url in self._urls:
                task = asyncio.create_task(self._deliver(url, body))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, url: str, body: bytes) -> None:
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            "X-Pusher-Key": self._key,
            "X-Pusher-Signature": webhook_signature(self._secret, body),
        }
        delay = self._policy.backoff_s
        for attempt in range(1, self._policy.attempts + 1):
            try:
                async with self._session.post(url, data=body, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
            log.warning("webhook.failed", url=_safe(url), attempt=attempt, problem=problem)
            if attempt < self._policy.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.error("webhook.given_up", url=_safe(url), attempts=self._policy.attempts)
