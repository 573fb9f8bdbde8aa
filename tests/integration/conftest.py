"""Fixtures for the hub's integration tests: a hub app on a real port, Pusher clients.

``hub_app`` builds an app with the hub's routes, a real SQLite store and a real bus, plus a
test-only channel-authorization route (``POST /test/pusher/auth``) that signs any channel for
whoever asks: the app's own POST /api/pusher/auth (participants only) is tested with the full
app. Hub limits can be tightened for tests (short pong timeout, ...).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.settings import Settings
from panamia.backends import make_bus
from signaling.auth import sign_channel, sign_request
from signaling.bus import Bus
from signaling.hub import Hub, HubLimits
from signaling.routes import setup_signaling_routes
from store.sqlite import SqliteStore
from web import keys

WAIT_S = 10.0
"""Upper bound for something that normally happens within milliseconds."""
APP_ID = "4242"
KEY = "test-key"
SECRET = "test-pusher-secret"


def hub_settings(make_settings: Callable[..., Settings], **sections: dict[str, Any]) -> Settings:
    pusher = {"app_id": APP_ID, "key": KEY, **sections.pop("pusher", {})}
    return make_settings(pusher=pusher, **sections)


async def sign_anything(request: web.Request) -> web.Response:
    """Sign any channel; presence members are taken from the form's user_id and name."""
    form = await request.post()
    socket_id = str(form["socket_id"])
    channel = str(form["channel_name"])
    settings = request.app[keys.SETTINGS].pusher
    secret = settings.secret.reveal()
    if channel.startswith("presence-"):
        channel_data = json.dumps(
            {"user_id": str(form["user_id"]), "user_info": {"name": str(form.get("name", ""))}}
        )
        auth = sign_channel(settings.key, secret, socket_id, channel, channel_data)
        return web.json_response({"auth": auth, "channel_data": channel_data})
    return web.json_response({"auth": sign_channel(settings.key, secret, socket_id, channel)})


def build_hub_app(
    settings: Settings, limits: HubLimits | None = None, bus: Bus | None = None
) -> web.Application:
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.WEBSOCKETS] = weakref.WeakSet()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        store = SqliteStore(str(Path(settings.store.data_dir) / "hub-test.sqlite3"))
        await store.open()
        app[keys.STORE] = store
        the_bus = bus or make_bus(settings.bus)
        await the_bus.start()
        app[keys.BUS] = the_bus
        hub = Hub(settings.pusher, settings.pusher.secret, the_bus, limits)
        await hub.start()
        app[keys.HUB] = hub
        yield
        await hub.close()
        await the_bus.close()
        await store.close()

    async def close_sockets(app: web.Application) -> None:
        sockets: weakref.WeakSet[web.WebSocketResponse] = app[keys.WEBSOCKETS]
        for ws in list(sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(close_sockets)
    setup_signaling_routes(app)
    app.router.add_post("/test/pusher/auth", sign_anything)
    return app


@pytest.fixture
async def hub_server(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    """``await hub_server(limits=, routes=, **settings_sections)`` -> a started TestServer.

    ``routes(app)`` may add test routes before the server starts."""
    servers: list[TestServer] = []

    async def start(
        limits: HubLimits | None = None,
        routes: Callable[[web.Application], None] | None = None,
        **sections: dict[str, Any],
    ) -> TestServer:
        app = build_hub_app(hub_settings(make_settings, **sections), limits)
        if routes is not None:
            routes(app)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


class PusherWS:
    """A minimal Pusher protocol client over a real websocket, for tests."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self.ws = ws
        self.http = http
        self.socket_id = ""
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, server: TestServer, key: str = KEY, protocol: str | None = "7") -> PusherWS:
        http = aiohttp.ClientSession()
        query = f"?protocol={protocol}" if protocol is not None else ""
        ws = await http.ws_connect(server.make_url(f"/app/{key}{query}"))
        client = cls(ws, http)
        return client

    async def connected(self) -> PusherWS:
        frame = await self.expect("pusher:connection_established")
        self.socket_id = json.loads(frame["data"])["socket_id"]
        return self

    async def send(self, event: str, data: Any = None, channel: str | None = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": {} if data is None else data}
        if channel is not None:
            frame["channel"] = channel
        await self.ws.send_str(json.dumps(frame))

    async def recv(self, timeout: float = WAIT_S) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket closed: {msg.type.name} {self.ws.close_code}")
        frame: dict[str, Any] = json.loads(msg.data)
        self.frames.append(frame)
        return frame

    async def expect(self, event: str, channel: str | None = None) -> dict[str, Any]:
        """The next frame with this event (and channel); others are kept in ``frames``."""
        while True:
            frame = await self.recv()
            if frame["event"] == event and (channel is None or frame.get("channel") == channel):
                return frame

    async def closed(self) -> int | None:
        """Read until the server closes; return the close code."""
        while True:
            msg = await self.ws.receive(timeout=WAIT_S)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(msg.data))

    async def subscribe(
        self, channel: str, user_id: str | None = None, name: str = "", secret: str = SECRET
    ) -> dict[str, Any]:
        """Subscribe (signing like an auth endpoint would); return the server's answer."""
        data: dict[str, Any] = {"channel": channel}
        if channel.startswith("presence-"):
            channel_data = json.dumps({"user_id": user_id, "user_info": {"name": name}})
            data["channel_data"] = channel_data
            data["auth"] = sign_channel(KEY, secret, self.socket_id, channel, channel_data)
        elif channel.startswith("private-"):
            data["auth"] = sign_channel(KEY, secret, self.socket_id, channel)
        await self.send("pusher:subscribe", data)
        while True:
            frame = await self.recv()
            if frame.get("channel") == channel and frame["event"] in (
                "pusher_internal:subscription_succeeded",
                "pusher:subscription_error",
            ):
                return frame

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


@pytest.fixture
async def pusher_clients() -> AsyncIterator[Callable[..., Any]]:
    """``await connect(server)`` -> a connected PusherWS, closed after the test."""
    opened: list[PusherWS] = []

    async def connect(server: TestServer, **kwargs: Any) -> PusherWS:
        client = await PusherWS.open(server, **kwargs)
        opened.append(client)
        return await client.connected()

    yield connect
    for client in opened:
        await client.close()


async def api_call(
    server: TestServer,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
    secret: str = SECRET,
) -> tuple[int, Any]:
    """A signed Pusher HTTP API request; returns (status, parsed JSON)."""
    raw = b"" if body is None else json.dumps(body).encode()
    query = sign_request(KEY, secret, method, path, params, raw)
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            server.make_url(path),
            params=query,
            data=raw or None,
            headers={"Content-Type": "application/json"},
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.02)


def hub_of(server: TestServer) -> Hub:
    return server.app[keys.HUB]


def frame_data(frame: dict[str, Any]) -> Any:
    """The decoded ``data`` of a pusher: / pusher_internal: frame (a JSON string on the wire)."""
    assert isinstance(frame["data"], str), frame
    return json.loads(frame["data"])


def sign_for(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    return sign_channel(KEY, SECRET, socket_id, channel, channel_data)
