"""Two hub nodes sharing one real redis-server: client events, presence and HTTP API events
cross nodes; a node killed with SIGKILL has its members removed after node_timeout_s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from tests.integration.conftest import (
    APP_ID,
    KEY,
    SECRET,
    PusherWS,
    api_call,
    frame_data,
)
from tests.support.procs import free_port, wait_for_port

ROOT = Path(__file__).parents[2]


@pytest.fixture
async def clean_redis(redis_url: str) -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    yield redis_url


@pytest.fixture
async def two_nodes(
    hub_server: Callable[..., Any], clean_redis: str
) -> tuple[TestServer, TestServer]:
    bus = {"redis_url": clean_redis, "node_timeout_s": 1.0}
    return await hub_server(bus=bus), await hub_server(bus=bus)


async def test_client_events_and_presence_cross_nodes(
    two_nodes: tuple[TestServer, TestServer], pusher_clients: Any
) -> None:
    node_a, node_b = two_nodes
    ana = await pusher_clients(node_a)
    ken = await pusher_clients(node_b)
    ken_tab2 = await pusher_clients(node_a)
    channel = "presence-session-x1"

    await ana.subscribe(channel, "ana", "Ana")
    joined = await ken.subscribe(channel, "ken", "Ken")
    assert frame_data(joined)["presence"]["hash"] == {
        "ana": {"name": "Ana"},
        "ken": {"name": "Ken"},
    }
    added = await ana.expect("pusher_internal:member_added", channel)
    assert frame_data(added)["user_id"] == "ken"

    # Ken's second connection, on the other node, is not a second member.
    again = await ken_tab2.subscribe(channel, "ken", "Ken")
    assert frame_data(again)["presence"]["count"] == 2

    await ken.send("client-chat-message", {"text": "hi"}, channel=channel)
    got = await ana.expect("client-chat-message", channel)
    assert got["data"] == {"text": "hi"} and got["user_id"] == "ken"
    await ken_tab2.expect("client-chat-message", channel)

    await ana.subscribe("private-call-x1")
    await ken.subscribe("private-call-x1")
    await ana.send("client-offer", {"sdp": "a"}, channel="private-call-x1")
    assert (await ken.expect("client-offer"))["data"] == {"sdp": "a"}

    # Ken leaves node B but is still connected on node A: no member_removed yet.
    await ken.close()
    await ana.send("client-ping-check", {}, channel=channel)
    await ken_tab2.expect("client-ping-check")
    await ken_tab2.close()
    removed = await ana.expect("pusher_internal:member_removed", channel)
    assert frame_data(removed) == {"user_id": "ken"}
    removals = [f for f in ana.frames if f["event"] == "pusher_internal:member_removed"]
    assert removals == [removed]


async def test_http_api_on_one_node_reaches_the_other(
    two_nodes: tuple[TestServer, TestServer], pusher_clients: Any
) -> None:
    node_a, node_b = two_nodes
    ana = await pusher_clients(node_a)
    ken = await pusher_clients(node_b)
    await ana.subscribe("presence-room-x2", "ana")
    await ken.subscribe("presence-room-x2", "ken")
    await ana.subscribe("news-x2")
    body = {"name": "update", "channels": ["news-x2", "presence-room-x2"], "data": "d"}
    status, _ = await api_call(node_b, "POST", f"/apps/{APP_ID}/events", body)
    assert status == 200
    assert (await ana.expect("update", "news-x2"))["data"] == "d"
    await ana.expect("update", "presence-room-x2")
    await ken.expect("update", "presence-room-x2")
    status, users = await api_call(node_a, "GET", f"/apps/{APP_ID}/channels/presence-room-x2/users")
    assert sorted(u["id"] for u in users["users"]) == ["ana", "ken"]
    status, channels = await api_call(
        node_b, "GET", f"/apps/{APP_ID}/channels", params={"info": "subscription_count"}
    )
    assert channels["channels"] == {
        "news-x2": {"subscription_count": 1},
        "presence-room-x2": {"subscription_count": 2},
    }


async def test_members_of_a_killed_node_disappear_after_the_timeout(
    hub_server: Callable[..., Any], clean_redis: str, pusher_clients: Any, tmp_path: Path
) -> None:
    node_a = await hub_server(bus={"redis_url": clean_redis, "node_timeout_s": 1.0})
    port = free_port()
    env = {
        **os.environ,
        "PANAMIA_BUS__REDIS_URL": clean_redis,
        "PANAMIA_BUS__NODE_TIMEOUT_S": "1.0",
        "PANAMIA_PUSHER__APP_ID": APP_ID,
        "PANAMIA_PUSHER__KEY": KEY,
        "PANAMIA_PUSHER__SECRET": SECRET,
        "PANAMIA_STORE__DATA_DIR": str(tmp_path / "node-b"),
        "PANAMIA_LOG__LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "panamia", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, "127.0.0.1", 30.0)
        node_b = _RemoteServer(port)
        ana = await pusher_clients(node_a)
        doomed = await PusherWS.open(node_b)  # type: ignore[arg-type]
        await doomed.connected()
        await ana.subscribe("presence-x3", "ana")
        await doomed.subscribe("presence-x3", "ken")
        added = await ana.expect("pusher_internal:member_added", "presence-x3")
        assert frame_data(added)["user_id"] == "ken"

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        removed = await ana.expect("pusher_internal:member_removed", "presence-x3")
        assert frame_data(removed) == {"user_id": "ken"}
        _status, users = await api_call(node_a, "GET", f"/apps/{APP_ID}/channels/presence-x3/users")
        assert users == {"users": [{"id": "ana"}]}
        await doomed.http.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _RemoteServer:
    """Enough of TestServer's interface for PusherWS to reach a server in another process."""

    def __init__(self, port: int) -> None:
        self.port = port

    def make_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"
