"""What the server tells about itself: no versions in ``Server``, ``nosniff`` on every answer
(pages, API, static files, websocket upgrades, errors), and /metrics behind a bearer token
when one is configured."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.loader import build_settings
from config.settings import Settings
from panamia.app import create_app
from tests.conftest import SettingsFactory

PLAIN_ANSWERS = [
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/openapi.json",
    "/api/mentoring/profile",  # 401
    "/api/no-such-route",  # 404 from the router
    "/no-such-page",
    "/static/css/app.css",
]


def _check(headers: CIMultiDictProxy[str], where: str) -> None:
    server = headers.get("Server", "")
    assert "aiohttp" not in server.lower() and "python" not in server.lower(), (where, server)
    assert not any(ch.isdigit() for ch in server), (where, server)
    assert headers.get("X-Content-Type-Options") == "nosniff", where


async def test_every_answer_says_nosniff_and_names_no_versions(
    aiohttp_server: AiohttpServer, settings: Settings
) -> None:
    server: TestServer = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession() as session:
        for path in PLAIN_ANSWERS:
            async with session.get(server.make_url(path), allow_redirects=False) as response:
                assert response.status < 500, path
                _check(response.headers, path)
        async with session.post(
            server.make_url("/api/auth/email"), data=b"{", headers={"Content-Type": "text/json"}
        ) as response:
            assert response.status == 400
            _check(response.headers, "bad sign-in body")
        ws = await session.ws_connect(server.make_url(f"/app/{settings.pusher.key}?protocol=7"))
        assert ws._response is not None
        _check(ws._response.headers, "websocket upgrade")
        await ws.close()


async def test_metrics_are_open_without_a_token(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/metrics")
    assert response.status == 200
    assert "panamia_hub_connections" in await response.text()


async def test_a_configured_token_guards_metrics(
    aiohttp_client: AiohttpClient, make_settings: SettingsFactory
) -> None:
    token = "scrape-token-0123456789"
    client = await aiohttp_client(create_app(make_settings(metrics={"bearer_token": token})))
    refused = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
    ]
    for headers in refused:
        response = await client.get("/metrics", headers=headers)
        assert response.status == 401, headers
        body = await response.json()
        assert body["field"] == "Authorization"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "panamia_" not in await response.text()
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert "panamia_hub_connections" in await response.text()
    response = await client.get("/metrics", headers={"Authorization": f"bearer {token}"})
    assert response.status == 200
    assert (await client.get("/healthz")).status == 200  # the rest needs no token


def test_the_token_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "metrics_token"
    secret_file.write_text("from-a-file\n", encoding="utf-8")
    settings = build_settings({"metrics": {"bearer_token_file": str(secret_file)}})
    assert settings.metrics.bearer_token.reveal() == "from-a-file"
    assert "from-a-file" not in repr(settings)
