"""The hub's own limits on the real app: open websockets per client address (close code 4100,
through trusted proxies too) and client events per user, each shared by two nodes over a real
redis-server, lapsing for a dead node, and failing open when Redis does not answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, Counter

from config.settings import Settings
from panamia.app import create_app
from signaling import protocol as p
from signaling.bus import InMemoryBus
from signaling.hub import Hub
from tests.integration.conftest import KEY, WAIT_S, PusherWS, hub_settings, sign_for
from tests.integration.test_redis_outage import RedisProcess
from tests.integration.test_redis_outage import redis_proc as redis_proc
from tests.support.procs import free_port
from web.connection_counts import RedisConnectionCounts
from web.hub_limits import UserEventLimit
from web.limits import Rate, RedisLimiter

Servers = Callable[..., Any]


@pytest.fixture
async def app_server(make_settings: Callable[..., Settings]) -> AsyncIterator[Servers]:
    """``await app_server(**sections)`` -> the full app on a real port (closed afterwards)."""
    servers: list[TestServer] = []

    async def start(**sections: dict[str, Any]) -> TestServer:
        server = TestServer(create_app(hub_settings(make_settings, **sections)), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., Any]]:
    """``await open_socket(server, forwarded_for=None)`` -> a PusherWS, closed afterwards."""
    opened: list[PusherWS] = []

    async def open_socket(server: TestServer, forwarded_for: str | None = None) -> PusherWS:
        http = aiohttp.ClientSession()
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        ws = await http.ws_connect(server.make_url(f"/app/{KEY}?protocol=7"), headers=headers)
        client = PusherWS(ws, http)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        await client.close()


def error_code(frame: dict[str, Any]) -> int:
    data = frame["data"]
    return int((json.loads(data) if isinstance(data, str) else data)["code"])


async def admitted(client: PusherWS) -> bool:
    """True when the hub welcomed the socket; False when it refused it with 4100."""
    frame = await client.recv()
    if frame["event"] == "pusher:connection_established":
        client.socket_id = json.loads(frame["data"])["socket_id"]
        return True
    assert frame["event"] == "pusher:error", frame
    assert error_code(frame) == p.CloseCode.OVER_CAPACITY
    assert await client.closed() == p.CloseCode.OVER_CAPACITY
    return False


async def refused_count(server: TestServer, limit: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as resp:
        text = await resp.text()
    prefix = f'panamia_rate_limited_total{{limit="{limit}"}} '
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.removeprefix(prefix))


async def settle(check: Callable[[], Any], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.05)


async def test_one_node_limits_connections_per_address(
    app_server: Servers, sockets: Callable[..., Any]
) -> None:
    server = await app_server(limits={"hub_connections_per_address": 2})
    first, second = await sockets(server), await sockets(server)
    assert await admitted(first) and await admitted(second)
    assert not await admitted(await sockets(server))
    assert await refused_count(server, "hub_connections") == 1
    await first.close()

    async def admits_again() -> bool:
        return await admitted(await sockets(server))

    await settle(admits_again, "a place freed by a closed socket")


async def test_addresses_behind_a_trusted_proxy_count_apart(
    app_server: Servers, sockets: Callable[..., Any]
) -> None:
    server = await app_server(
        limits={"hub_connections_per_address": 1}, http={"trusted_proxies": ["127.0.0.1"]}
    )
    assert await admitted(await sockets(server, "198.51.100.1"))
    assert await admitted(await sockets(server, "198.51.100.2"))
    assert not await admitted(await sockets(server, "6.6.6.6, 198.51.100.1"))


async def test_zero_means_no_connection_limit(
    app_server: Servers, sockets: Callable[..., Any]
) -> None:
    server = await app_server(limits={"hub_connections_per_address": 0})
    for _ in range(60):
        assert await admitted(await sockets(server))


@pytest.mark.redis
async def test_two_nodes_share_the_connection_limit_and_fail_open(
    app_server: Servers, sockets: Callable[..., Any], redis_proc: RedisProcess
) -> None:
    sections: dict[str, Any] = {
        "bus": {"redis_url": redis_proc.url},
        "limits": {"hub_connections_per_address": 3},
    }
    node_a, node_b = await app_server(**sections), await app_server(**sections)
    on_a = [await sockets(node_a), await sockets(node_a)]
    assert all([await admitted(client) for client in on_a])
    assert await admitted(await sockets(node_b))
    assert not await admitted(await sockets(node_b))
    assert not await admitted(await sockets(node_a))
    assert await refused_count(node_a, "hub_connections") == 1
    assert await refused_count(node_b, "hub_connections") == 1
    await on_a[0].close()

    async def b_admits() -> bool:
        return await admitted(await sockets(node_b))

    await settle(b_admits, "node B to see node A's closed socket")

    redis_proc.kill()  # fail open: Redis cannot count, so nobody is turned away
    assert await admitted(await sockets(node_b))


@pytest.mark.redis
async def test_a_dead_nodes_connections_stop_counting(redis_proc: RedisProcess) -> None:
    # A share lapses 2 s after its last heartbeat (every 0.2 s): ten heartbeats may be late
    # on a loaded machine before a live node's share lapses by mistake.
    crashed = RedisConnectionCounts(redis_proc.url, heartbeat_s=0.2, expiry_s=2.0)
    living = RedisConnectionCounts(redis_proc.url, heartbeat_s=0.2, expiry_s=2.0)
    await crashed.start()
    await living.start()
    try:
        assert await crashed.enter("203.0.113.9", 2)
        assert await crashed.enter("203.0.113.9", 2)
        await asyncio.sleep(2.5)  # past the expiry: heartbeats keep the crashed node's share
        assert not await living.enter("203.0.113.9", 2)
        await crashed.abandon()  # stops confirming, as a SIGKILLed node would

        async def lapsed() -> bool:
            return await living.enter("203.0.113.9", 2)

        await settle(lapsed, "the dead node's share to lapse")
    finally:
        await living.close()


@pytest.mark.redis
async def test_a_redis_restart_gets_the_counts_back(redis_proc: RedisProcess) -> None:
    node = RedisConnectionCounts(redis_proc.url, heartbeat_s=0.2, expiry_s=5.0)
    other = RedisConnectionCounts(redis_proc.url, heartbeat_s=0.2, expiry_s=5.0)
    await node.start()
    try:
        assert await node.enter("203.0.113.7", 1)
        redis_proc.kill()
        redis_proc.start()  # empty
        client = aioredis.Redis.from_url(redis_proc.url)

        async def reasserted() -> bool:
            return bool(await client.exists("panamia:hubconn:203.0.113.7"))

        await settle(reasserted, "the node to write its share back")
        await client.aclose()
        assert not await other.enter("203.0.113.7", 1)
    finally:
        await node.close()
        await other.close()


async def join_presence(client: PusherWS, channel: str, user_id: str) -> None:
    answer = await client.subscribe(channel, user_id=user_id)
    assert answer["event"] == "pusher_internal:subscription_succeeded", answer


async def refusals(client: PusherWS) -> list[int]:
    """The codes of the error frames a client got until it has been quiet for a second
    (events from the other connections are read and skipped)."""
    codes: list[int] = []
    while True:
        try:
            frame = await client.recv(timeout=1.0)
        except TimeoutError:
            return codes
        if frame["event"] == "pusher:error":
            codes.append(error_code(frame))


@pytest.mark.redis
async def test_client_events_per_user_are_shared_by_two_nodes(
    app_server: Servers, pusher_clients: Callable[..., Any], redis_proc: RedisProcess
) -> None:
    sections: dict[str, Any] = {
        "bus": {"redis_url": redis_proc.url},
        "limits": {
            "client_events_per_user_burst": 4,
            "client_events_per_user_per_second": 0.01,
        },
    }
    node_a, node_b = await app_server(**sections), await app_server(**sections)
    channel = "presence-session-limits"
    ana_a, ana_b = await pusher_clients(node_a), await pusher_clients(node_b)
    bea = await pusher_clients(node_b)
    for client, user_id in ((ana_a, "ana"), (ana_b, "ana"), (bea, "bea")):
        await join_presence(client, channel, user_id)
    for client in (ana_a, ana_b):  # 6 events from one user over two nodes: 4 pass
        for n in range(3):
            await client.send("client-note", {"n": n}, channel=channel)

    async def both_refused() -> bool:
        counts = [await refused_count(node, "client_events") for node in (node_a, node_b)]
        return sum(counts) >= 2

    # The nodes have decided before the quiet second that ends each collection starts: on a
    # loaded machine a refusal may take longer than that to be made.
    await settle(both_refused, "two of the six events refused")
    refused = await refusals(ana_a) + await refusals(ana_b)
    assert refused.count(p.CloseCode.CLIENT_EVENT_RATE_LIMIT) == 2, refused
    for n in range(3):  # another user has their own allowance
        await bea.send("client-note", {"n": n}, channel=channel)
    assert await refusals(bea) == []
    assert (
        await refused_count(node_a, "client_events") + await refused_count(node_b, "client_events")
        == 2
    )


async def test_client_events_fail_open_when_the_limiter_cannot_reach_redis(
    make_settings: Callable[..., Settings],
) -> None:
    settings = hub_settings(make_settings)
    nowhere = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    refused = Counter("refused", "refusals", ["limit"], registry=CollectorRegistry())
    limit = UserEventLimit(nowhere, Rate(0.01, 1), refused)
    hub = Hub(settings.pusher, settings.pusher.secret, InMemoryBus(), client_event_limit=limit)
    await hub.start()
    try:
        sender, receiver = hub.connect(), hub.connect()
        channel = "presence-session-open"
        for conn, user_id in ((sender, "ana"), (receiver, "bea")):
            data = json.dumps({"user_id": user_id, "user_info": {}})
            auth = sign_for(conn.socket_id, channel, data)
            subscribe = {"channel": channel, "auth": auth, "channel_data": data}
            await hub.handle(conn, json.dumps({"event": "pusher:subscribe", "data": subscribe}))
        receiver.outbox.clear()
        for n in range(3):
            frame = {"event": "client-note", "channel": channel, "data": {"n": n}}
            await hub.handle(sender, json.dumps(frame))
        delivered = [json.loads(text) for text in receiver.outbox]
        assert [frame["event"] for frame in delivered] == ["client-note"] * 3
        assert hub.stats()["client_events_rate_limited"] == 0
    finally:
        await hub.close()
        await nowhere.close()
