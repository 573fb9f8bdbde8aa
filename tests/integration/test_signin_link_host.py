"""Sign-in links point at the address the person browses when it is this machine's own
loopback name (no public_url set), and never at a host a request merely claims."""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client
from tests.support.procs import free_port


async def dev_link(client: Client, host: str) -> str:
    response = await client.post(
        "/api/auth/email", json={"email": "ana@example.org"}, headers={"Host": host}
    )
    assert response.status == 202, await response.text()
    link: str = (await response.json())["devLink"]
    return link


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:{port}", "http://127.0.0.1:{port}/auth/callback?"),
        ("localhost:{port}", "http://localhost:{port}/auth/callback?"),
        ("[::1]:{port}", "http://[::1]:{port}/auth/callback?"),
        # Anything else falls back to the configured address.
        ("evil.example:{port}", "http://localhost:{port}/auth/callback?"),
        ("127.0.0.1:1", "http://localhost:{port}/auth/callback?"),
        ("10.0.0.5:{port}", "http://localhost:{port}/auth/callback?"),
    ],
)
async def test_without_public_url_the_link_follows_a_loopback_host(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    make_settings: SettingsFactory,
    host: str,
    expected: str,
) -> None:
    port = free_port()
    settings = make_settings(http={"host": "127.0.0.1", "port": port})
    server = await aiohttp_server(create_app(settings), port=port)
    client: Client = await aiohttp_client(server)
    link = await dev_link(client, host.format(port=port))
    assert link.startswith(expected.format(port=port))


async def test_a_public_url_always_wins(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, make_settings: SettingsFactory
) -> None:
    port = free_port()
    settings = make_settings(
        http={"host": "127.0.0.1", "port": port, "public_url": "https://live.example.org"}
    )
    server = await aiohttp_server(create_app(settings), port=port)
    client: Client = await aiohttp_client(server)
    for host in (f"127.0.0.1:{port}", "evil.example"):
        link = await dev_link(client, host)
        assert link.startswith("https://live.example.org/auth/callback?")
