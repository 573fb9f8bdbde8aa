"""A tiny Pusher Channels (protocol 7) client over an aiohttp websocket.

Just what a session room needs: the connection handshake, private and presence
subscriptions authorised by the server's POST /api/pusher/auth, client events (paced under
the hub's 10-per-second limit), and the ping/pong keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger(__name__)

EventHandler = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Called with (event, channel, data) for every event that is not the protocol's own."""

CLIENT_EVENTS_PER_S = 10


class PusherError(Exception):
    """The hub refused us or went away; the message says how."""


def ws_url(base_url: str, key: str) -> str:
    scheme, _, rest = base_url.rstrip("/").partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest}/app/{key}?protocol=7&client=panamia-loadtest&version=1"


def decode_data(raw: object) -> Any:
    """Pusher sends ``data`` as a JSON string for its own events; client events may carry
    an object. Either way we want the object."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class PusherClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        key: str,
        on_event: EventHandler,
        on_close: Callable[[str], None] | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._on_event = on_event
        self._on_close = on_close
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._established: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._subscriptions: dict[str, asyncio.Future[Any]] = {}
        self._sent: deque[float] = deque()
        self._send_lock = asyncio.Lock()
        self._last_rx = time.monotonic()
        self.activity_timeout_s = 120.0
        self.socket_id = ""
        self.closed_reason: str | None = None
        self.messages_in = 0
        self.messages_out = 0
        self.errors_received = 0

    async def connect(self) -> str:
        """Open the websocket and wait for pusher:connection_established; return socket_id."""
        try:
            self._ws = await self._http.ws_connect(
                ws_url(self._base_url, self._key), heartbeat=None, autoping=True
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise PusherError(f"websocket connect failed: {exc}") from exc
        self._reader = asyncio.create_task(self._read())
        self.socket_id = await self._established
        self._keepalive = asyncio.create_task(self._keep_alive())
        return self.socket_id

    async def subscribe(self, channel: str) -> Any:
        """Subscribe (asking the server to sign private/presence channels); return the data of
        pusher_internal:subscription_succeeded."""
        payload: dict[str, Any] = {"channel": channel}
        if channel.startswith(("private-", "presence-")):
            auth = await self._authorise(channel)
            payload["auth"] = auth["auth"]
            if "channel_data" in auth:
                payload["channel_data"] = auth["channel_data"]
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._subscriptions[channel] = future
        await self._send({"event": "pusher:subscribe", "data": payload})
        return await future

    async def _authorise(self, channel: str) -> dict[str, Any]:
        form = {"socket_id": self.socket_id, "channel_name": channel}
        try:
            async with self._http.post(f"{self._base_url}/api/pusher/auth", data=form) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict) or "auth" not in body:
                    error = body.get("error") if isinstance(body, dict) else body
                    raise PusherError(f"channel auth for {channel}: HTTP {resp.status} {error}")
                return body
        except (aiohttp.ClientError, ValueError) as exc:
            raise PusherError(f"channel auth for {channel} failed: {exc}") from exc

    async def trigger(self, channel: str, event: str, data: dict[str, Any]) -> None:
        """Send a client event, pacing ourselves under the hub's per-connection limit."""
        async with self._send_lock:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= 1.0:
                self._sent.popleft()
            if len(self._sent) >= CLIENT_EVENTS_PER_S:
                await asyncio.sleep(1.0 - (now - self._sent[0]) + 0.01)
                self._sent.popleft()
            self._sent.append(time.monotonic())
            await self._send({"event": event, "channel": channel, "data": data})

    async def _send(self, frame: dict[str, Any]) -> None:
        if self._ws is None or self._ws.closed:
            raise PusherError(self.closed_reason or "websocket is not open")
        try:
            await self._ws.send_str(json.dumps(frame, separators=(",", ":")))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise PusherError(f"websocket send failed: {exc}") from exc
        self.messages_out += 1

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._last_rx = time.monotonic()
                self.messages_in += 1
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    await self._dispatch(frame)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.closed_reason = f"websocket error: {exc}"
        finally:
            code = self._ws.close_code
            self.closed_reason = self.closed_reason or f"websocket closed (code {code})"
            self._fail_pending(PusherError(self.closed_reason))
            if self._on_close is not None:
                self._on_close(self.closed_reason)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        event = str(frame.get("event", ""))
        channel = str(frame.get("channel", ""))
        data = decode_data(frame.get("data"))
        if event == "pusher:connection_established":
            if isinstance(data, dict) and not self._established.done():
                timeout = data.get("activity_timeout")
                if isinstance(timeout, int | float) and timeout > 0:
                    self.activity_timeout_s = float(timeout)
                self._established.set_result(str(data.get("socket_id", "")))
        elif event == "pusher:ping":
            await self._send({"event": "pusher:pong", "data": {}})
        elif event == "pusher_internal:subscription_succeeded":
            future = self._subscriptions.get(channel)
            if future is not None and not future.done():
                future.set_result(data)
        elif event == "pusher:subscription_error":
            future = self._subscriptions.get(channel)
            if future is not None and not future.done():
                future.set_exception(PusherError(f"subscription to {channel} refused: {data}"))
        elif event == "pusher:error":
            log.info("loadtest.pusher_error", data=data)
            self.errors_received += 1
            # Before the handshake, or while a subscription waits, an error is the answer to it.
            self._fail_pending(PusherError(f"hub error: {data}"))
        elif event != "pusher:pong":
            await self._on_event(event, channel, data if isinstance(data, dict) else {})

    def _fail_pending(self, error: PusherError) -> None:
        if not self._established.done():
            self._established.set_exception(error)
        for future in self._subscriptions.values():
            if not future.done():
                future.set_exception(error)

    async def _keep_alive(self) -> None:
        """Ping after a quiet activity_timeout, as pusher-js does."""
        while self._ws is not None and not self._ws.closed:
            await asyncio.sleep(min(self.activity_timeout_s, 30.0) / 2)
            if time.monotonic() - self._last_rx >= self.activity_timeout_s / 2:
                with contextlib.suppress(PusherError):
                    await self._send({"event": "pusher:ping", "data": {}})

    @property
    def is_open(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def close(self) -> None:
        for task in (self._keepalive, self._reader):
            if task is not None:
                task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for task in (self._keepalive, self._reader):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
