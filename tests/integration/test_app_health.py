"""The composed app: liveness, readiness, and a clean shutdown of open websockets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from config.settings import Settings
from panamia.app import create_app
from store.base import StoreUnavailable
from tests.conftest import SettingsFactory
from tests.support.procs import find_tool, free_port, running
from web import keys


async def test_healthz_answers_while_alive(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    assert response.headers["X-Request-Id"]


async def test_readyz_reports_ready_on_the_embedded_defaults(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/readyz")
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "ready"


async def test_readyz_names_an_unreachable_store(
    aiohttp_client: AiohttpClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)

    async def unreachable() -> None:  # fault injection: the database stops answering
        raise StoreUnavailable("mongodb://db.internal:27017: connection refused")

    monkeypatch.setattr(app[keys.STORE], "ping", unreachable)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["problems"]["store"] == "The database does not answer"
    assert "db.internal" not in await response.text()
    assert "27017" not in await response.text()
    assert "bus" not in body["problems"]


async def test_readyz_names_an_unreachable_bus(make_settings: SettingsFactory) -> None:
    """A Redis bus whose server went away makes the node unready, naming the bus."""
    binary = find_tool("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it: apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with running(args, port) as proc:
        app = create_app(make_settings(bus={"redis_url": f"redis://127.0.0.1:{port}/0"}))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/readyz")).status == 200
            proc.terminate()
            proc.wait(timeout=10)
            response = await client.get("/readyz")
            assert response.status == 503
            assert "bus" in (await response.json())["problems"]
            assert str(port) not in await response.text()
            assert "127.0.0.1" not in await response.text()


async def test_shutdown_closes_websockets_with_going_away(settings: Settings) -> None:
    app = create_app(settings)
    server = TestServer(app)
    await server.start_server()
    key = settings.pusher.key
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.make_url(f"/app/{key}?protocol=7"))
        first = await ws.receive_json()
        assert first["event"] == "pusher:connection_established"
        # The client keeps reading while the server shuts down, as a browser would, so it
        # can answer the server's close frame.
        shutdown = asyncio.create_task(server.close())
        closing = await ws.receive()
        await shutdown
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == WSCloseCode.GOING_AWAY


async def test_services_are_built_at_start_up_and_closed_in_reverse(settings: Settings) -> None:
    app = create_app(settings)
    runner = aiohttp.web.AppRunner(app, handle_signals=False)
    await runner.setup()
    closed: list[str] = []
    services: dict[str, Any] = {
        "store": app[keys.STORE],
        "bus": app[keys.BUS],
        "hub": app[keys.HUB],
        "notes": app[keys.NOTES],
        "relay": app[keys.RELAY],
    }
    for name, service in services.items():
        original = service.close

        async def close(name: str = name, original: Any = original) -> None:
            closed.append(name)
            await original()

        service.close = close  # recorded, then the real close
    metrics = app[keys.METRICS]
    assert metrics.hub_stats is not None and metrics.relay_stats is not None
    await runner.cleanup()
    assert closed == ["relay", "notes", "hub", "bus", "store"]
