"""Two hub nodes sharing one real redis-server that is SIGKILLed and restarted empty (no
persistence, as compose.yaml runs it): the HTTP API answers 503 instead of dropping events,
/readyz says "bus" until the node listens again, subscriptions and client events are refused
with Pusher errors on a living socket, and presence comes back without anyone reconnecting."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from panamia.app import readyz
from signaling import protocol as p
from signaling.auth import sign_request
from signaling.redis_bus import RedisBus
from tests.integration.conftest import APP_ID, KEY, SECRET, PusherWS, api_call, frame_data
from tests.support.procs import find_tool, free_port, wait_for_port
from web import keys

DEADLINE_S = 30.0
"""Generous bound for things that take about a second."""
OUTAGE_S = 5.0


class RedisProcess:
    """A redis-server without persistence on a fixed port, to kill and start again."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    binary = find_tool("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it: apt-get install redis-server)")
    server = RedisProcess(binary)
    server.start()
    yield server
    if server.proc is not None:
        server.kill()


def _with_readyz(app: web.Application) -> None:
    app.router.add_get("/readyz", readyz)


@pytest.fixture
async def two_nodes(
    redis_proc: RedisProcess, hub_server: Callable[..., Any]
) -> AsyncIterator[tuple[TestServer, TestServer]]:
    bus = {"redis_url": redis_proc.url, "node_timeout_s": 1.0}
    node_a = await hub_server(bus=bus, routes=_with_readyz)
    node_b = await hub_server(bus=bus, routes=_with_readyz)
    # Each node has seen the other alive (heartbeats every node_timeout_s / 3), so that each
    # waits for the other to listen again after an outage; a fixed pause may be too short
    # for a loaded machine.
    await until(lambda: sees_each_other(node_a, node_b), "each node to see the other alive")
    yield node_a, node_b


async def sees_each_other(*nodes: TestServer) -> bool:
    for node in nodes:
        bus = node.app[keys.BUS]
        assert isinstance(bus, RedisBus)
        if bus._expected_receivers() < len(nodes) - 1:
            return False
    return True


async def until(check: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> float:
    """Poll an async check until it is true; return how long it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"gave up waiting: {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def readiness(server: TestServer) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url("/readyz")) as resp,
    ):
        return resp.status, await resp.json()


async def is_ready(*servers: TestServer) -> bool:
    for server in servers:
        if (await readiness(server))[0] != 200:
            return False
    return True


async def bus_down(*servers: TestServer) -> bool:
    for server in servers:
        status, body = await readiness(server)
        if status != 503 or "bus" not in body.get("problems", {}):
            return False
    return True


async def has_left(server: TestServer) -> bool:
    return bool(server.app[keys.HUB].stats()["connections"] == 1)


async def trigger(server: TestServer, body: Any, path: str = "events") -> aiohttp.ClientResponse:
    """A signed trigger; returns the response (already read) to look at its headers."""
    raw = json.dumps(body).encode()
    full = f"/apps/{APP_ID}/{path}"
    query = sign_request(KEY, SECRET, "POST", full, None, raw)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.make_url(full),
            params=query,
            data=raw,
            headers={"Content-Type": "application/json"},
        ) as resp,
    ):
        await resp.read()
        return resp


async def test_http_api_answers_503_while_redis_is_down_and_loses_no_accepted_event(
    two_nodes: tuple[TestServer, TestServer], redis_proc: RedisProcess, pusher_clients: Any
) -> None:
    node_a, node_b = two_nodes
    ana = await pusher_clients(node_a)
    ken = await pusher_clients(node_b)
    await ana.subscribe("news-o1")
    await ken.subscribe("news-o1")
    assert await is_ready(node_a, node_b)

    redis_proc.kill()
    await until(lambda: bus_down(node_a, node_b), "/readyz reporting the bus")
    resp = await trigger(node_b, {"name": "e", "channels": ["news-o1"], "data": "lost?"})
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert "error" in json.loads(await resp.text())
    batch = {"batch": [{"name": "e", "channel": "news-o1", "data": "lost?"}]}
    assert (await trigger(node_b, batch, "batch_events")).status == 503
    # Down for about 5 s, as in the reported incident: nothing is accepted meanwhile.
    outage_ends = time.monotonic() + OUTAGE_S
    while time.monotonic() < outage_ends:
        for node in (node_a, node_b):
            resp = await trigger(node, {"name": "e", "channels": ["news-o1"], "data": "x"})
            assert resp.status == 503
        await asyncio.sleep(0.1)

    restarted = time.monotonic()
    starting = asyncio.create_task(asyncio.to_thread(redis_proc.start))
    # Trigger without pause through the recovery: every 200 must reach both clients.
    accepted: list[str] = []
    refused = 0
    n = 0
    while not await is_ready(node_a, node_b):
        assert time.monotonic() - restarted < DEADLINE_S, "nodes never became ready"
        n += 1
        resp = await trigger(node_b, {"name": "e", "channels": ["news-o1"], "data": f"m{n}"})
        assert resp.status in (200, 503), resp.status
        if resp.status == 200:
            accepted.append(f"m{n}")
        else:
            refused += 1
    recovery_s = time.monotonic() - restarted
    await starting
    resp = await trigger(node_b, {"name": "e", "channels": ["news-o1"], "data": "after"})
    assert resp.status == 200
    accepted.append("after")
    for client in (ana, ken):
        got = [(await client.expect("e", "news-o1"))["data"] for _ in accepted]
        assert got == accepted
    print(
        f"\nHTTP API: both nodes ready {recovery_s:.2f} s after redis-server was started;"
        f" {refused} triggers answered 503 meanwhile, {len(accepted)} accepted and delivered"
    )


async def test_subscriptions_and_client_events_during_the_outage_keep_the_socket(
    two_nodes: tuple[TestServer, TestServer], redis_proc: RedisProcess, pusher_clients: Any
) -> None:
    node_a, node_b = two_nodes
    ana = await pusher_clients(node_a)
    ken = await pusher_clients(node_b)
    await ana.subscribe("private-call-o2")
    await ken.subscribe("private-call-o2")

    redis_proc.kill()
    await until(lambda: bus_down(node_a, node_b), "/readyz reporting the bus")
    for channel, user in (("presence-room-o2", "ana"), ("news-o2", None)):
        answer = await ana.subscribe(channel, user, "Ana")
        assert answer["event"] == "pusher:subscription_error"
        assert frame_data(answer)["status"] == 503
    await ana.send("client-offer", {"sdp": "x"}, channel="private-call-o2")
    refusal = await ana.expect("pusher:error")
    assert frame_data(refusal)["code"] == p.CloseCode.BUS_UNAVAILABLE
    # The socket lives on: it still answers pings.
    await ana.send("pusher:ping")
    await ana.expect("pusher:pong")

    redis_proc.start()
    await until(lambda: is_ready(node_a, node_b), "both nodes ready again")
    # The refused subscriptions complete by themselves, as pusher-js still waits for them.
    late: dict[str, Any] = {}
    while len(late) < 2:
        frame = await ana.recv()
        if frame["event"] == "pusher_internal:subscription_succeeded":
            late[frame["channel"]] = frame
    assert set(late) == {"news-o2", "presence-room-o2"}
    assert frame_data(late["presence-room-o2"])["presence"]["ids"] == ["ana"]
    joined = await ken.subscribe("presence-room-o2", "ken", "Ken")
    assert set(frame_data(joined)["presence"]["ids"]) == {"ana", "ken"}
    await ana.send("client-offer", {"sdp": "y"}, channel="private-call-o2")
    assert (await ken.expect("client-offer", "private-call-o2"))["data"] == {"sdp": "y"}
    assert not ana.ws.closed and not ken.ws.closed


async def test_presence_and_occupancy_come_back_after_a_restart(
    two_nodes: tuple[TestServer, TestServer], redis_proc: RedisProcess, pusher_clients: Any
) -> None:
    node_a, node_b = two_nodes
    ana = await pusher_clients(node_a)
    ken = await pusher_clients(node_b)
    leaver = await pusher_clients(node_b)
    channel = "presence-session-o3"
    await ana.subscribe(channel, "ana", "Ana")
    await ken.subscribe(channel, "ken", "Ken")
    await leaver.subscribe(channel, "lea", "Lea")
    await ana.subscribe("news-o3")

    redis_proc.kill()
    await until(lambda: bus_down(node_a, node_b), "/readyz reporting the bus")
    await leaver.close()  # leaves while Redis is down
    await until(lambda: has_left(node_b), "the leaver's socket closed on node B")
    starting = asyncio.create_task(asyncio.to_thread(redis_proc.start))
    recovery_s = await until(lambda: is_ready(node_a, node_b), "both nodes ready again")
    await starting

    for node in (node_a, node_b):
        status, users = await api_call(node, "GET", f"/apps/{APP_ID}/channels/{channel}/users")
        assert status == 200
        assert sorted(u["id"] for u in users["users"]) == ["ana", "ken"]
        status, channels = await api_call(
            node, "GET", f"/apps/{APP_ID}/channels", params={"info": "subscription_count"}
        )
        assert channels["channels"] == {
            channel: {"subscription_count": 2},
            "news-o3": {"subscription_count": 1},
        }
    removed = await ana.expect("pusher_internal:member_removed", channel)
    assert frame_data(removed) == {"user_id": "lea"}
    newcomer = await pusher_clients(node_a)
    joined = await newcomer.subscribe(channel, "zoe", "Zoe")
    assert set(frame_data(joined)["presence"]["ids"]) == {"ana", "ken", "zoe"}
    print(f"\npresence re-asserted: both nodes ready {recovery_s:.2f} s after the restart")


async def test_a_closed_socket_during_the_outage_is_not_an_error(
    two_nodes: tuple[TestServer, TestServer], redis_proc: RedisProcess
) -> None:
    node_a, _node_b = two_nodes
    client = await PusherWS.open(node_a)
    await client.connected()
    await client.subscribe("presence-x-o4", "ana", "Ana")
    redis_proc.kill()
    await until(lambda: bus_down(node_a), "/readyz reporting the bus")
    await client.send("pusher:unsubscribe", {"channel": "presence-x-o4"})
    await client.send("pusher:ping")
    await client.expect("pusher:pong")
    await client.close()
