"""Rate limits on the real app: sign-in links per client address and per e-mail address,
writes per user, client addresses through trusted proxies, and one limit shared by two nodes
over a real redis-server."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from tests.conftest import SettingsFactory
from tests.support.apiclient import connect, user

LINK = "/api/auth/email"


async def start(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, **sections: Any
) -> TestServer:
    return await aiohttp_server(create_app(make_settings(**sections)))


def refused_count(metrics: str, limit: str) -> float:
    prefix = f'panamia_rate_limited_total{{limit="{limit}"}} '
    line = next(line for line in metrics.splitlines() if line.startswith(prefix))
    return float(line.removeprefix(prefix))


async def test_one_client_cannot_get_links_for_thirty_addresses(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    server = await start(aiohttp_server, make_settings)  # the default limits
    client = await connect(aiohttp_client, server)
    answers = [await client.post(LINK, json={"email": f"u{i}@example.org"}) for i in range(30)]
    statuses = [answer.status for answer in answers]
    assert 202 in statuses and statuses.count(429) >= 5, statuses
    refused = answers[statuses.index(429)]
    assert await refused.json() == {"error": "Too many requests; try again later"}
    assert int(refused.headers["Retry-After"]) >= 1
    metrics = await (await client.get("/metrics")).text()
    assert refused_count(metrics, "signin_address") == statuses.count(429)
    assert refused_count(metrics, "writes") == 0


async def test_links_for_one_address_are_limited_with_the_email_field(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    limits = {"signin_email_burst": 2, "signin_email_per_minute": 0.5}
    server = await start(aiohttp_server, make_settings, limits=limits)
    client = await connect(aiohttp_client, server)
    for _ in range(2):
        assert (await client.post(LINK, json={"email": "ana@example.org"})).status == 202
    refused = await client.post(LINK, json={"email": "ANA@example.org"})
    assert refused.status == 429
    assert (await refused.json())["field"] == "email"
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    assert (await client.post(LINK, json={"email": "bea@example.org"})).status == 202


async def test_the_store_cap_on_links_also_says_when_to_retry(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    server = await start(aiohttp_server, make_settings, auth={"link_requests_per_hour": 1})
    client = await connect(aiohttp_client, server)
    assert (await client.post(LINK, json={"email": "ana@example.org"})).status == 202
    refused = await client.post(LINK, json={"email": "ana@example.org"})
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "3600"


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    limits = {"signin_address_burst": 1}
    trusting = await start(
        aiohttp_server, make_settings, limits=limits, http={"trusted_proxies": ["127.0.0.0/8"]}
    )
    client = await connect(aiohttp_client, trusting)
    for client_ip in ("198.51.100.1", "198.51.100.2"):
        headers = {"X-Forwarded-For": f"6.6.6.6, {client_ip}"}
        answer = await client.post(LINK, json={"email": "a@example.org"}, headers=headers)
        assert answer.status == 202
    again = {"X-Forwarded-For": "7.7.7.7, 198.51.100.1"}  # a forged left part changes nothing
    assert (await client.post(LINK, json={"email": "b@example.org"}, headers=again)).status == 429

    untrusting = await start(aiohttp_server, make_settings, limits=limits)
    client = await connect(aiohttp_client, untrusting)
    for client_ip, status in (("198.51.100.1", 202), ("198.51.100.2", 429)):
        headers = {"X-Forwarded-For": client_ip}  # ignored: the peer is no trusted proxy
        answer = await client.post(LINK, json={"email": "a@example.org"}, headers=headers)
        assert answer.status == status


async def test_writes_are_limited_per_user(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    # A refill far slower than the requests however slow the machine (the default refills a
    # write a second, which a busy machine could take to answer the first four).
    limits = {"writes_burst": 3, "writes_per_minute": 0.01}
    server = await start(aiohttp_server, make_settings, limits=limits)
    ana = await user(aiohttp_client, server, "ana@example.org")
    bea = await user(aiohttp_client, server, "bea@example.org")
    for _ in range(3):
        assert (await ana.post("/api/calendar/token")).status == 201
    refused = await ana.patch("/api/mentoring/profile", json={"name": "Ana"})
    assert refused.status == 429
    assert "Retry-After" in refused.headers
    assert (await ana.get("/api/mentoring/profile")).status == 200  # reads are not writes
    assert (await bea.patch("/api/mentoring/profile", json={"name": "Bea"})).status == 200
    metrics = await (await ana.get("/metrics")).text()
    assert refused_count(metrics, "writes") == 1


async def test_zero_disables_a_limit(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, aiohttp_client: AiohttpClient
) -> None:
    server = await start(aiohttp_server, make_settings, limits={"writes_per_minute": 0})
    ana = await user(aiohttp_client, server, "ana@example.org")
    for _ in range(70):
        assert (await ana.post("/api/calendar/token")).status == 201


@pytest.mark.redis
async def test_two_nodes_sharing_redis_share_the_limit(
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    aiohttp_client: AiohttpClient,
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    sections: dict[str, Any] = {
        "bus": {"redis_url": redis_url},
        "limits": {"signin_address_burst": 4, "signin_address_per_minute": 0.1},
    }
    first = await connect(aiohttp_client, await start(aiohttp_server, make_settings, **sections))
    second = await connect(aiohttp_client, await start(aiohttp_server, make_settings, **sections))
    for node in (first, second, first, second):
        assert (await node.post(LINK, json={"email": "x@example.org"})).status == 202
    for node in (first, second):
        assert (await node.post(LINK, json={"email": "y@example.org"})).status == 429
