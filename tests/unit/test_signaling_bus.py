"""The Bus contract, run against InMemoryBus (two nodes on one network) and RedisBus (two
nodes on a real redis-server): publish reaches other nodes only, in order; presence counts one
member per user across nodes; occupancy is cluster-wide; a dead Redis node is reaped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from config.settings import BusSettings, Secret
from panamia.backends import make_bus
from signaling.bus import Bus, BusUnavailable, InMemoryBus, InMemoryNetwork, NodeLoss
from signaling.redis_bus import RedisBus

WAIT_S = 10.0


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Any]]:
    made: list[Bus] = []
    if request.param == "memory":
        network = InMemoryNetwork()

        def factory() -> Bus:
            return InMemoryBus(network)
    else:
        url = request.getfixturevalue("redis_url")
        client = aioredis.Redis.from_url(url)
        await client.flushdb()
        await client.aclose()

        def factory() -> Bus:
            return RedisBus(url, node_timeout_s=0.6)

    async def start() -> Bus:
        bus = factory()
        await bus.start()
        made.append(bus)
        return bus

    yield start
    for bus in made:
        await bus.close()


async def until(check: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


async def listening(bus: Bus, topic: str) -> None:
    """Until Redis has ``bus``'s subscription to ``topic`` (at once in memory).

    redis-py sends SUBSCRIBE without waiting for its confirmation, and a redis-server that a
    busy machine did not schedule for a while may then take a publish arriving on another
    connection first; a short sleep only makes that unlikely.
    """
    if not isinstance(bus, RedisBus):
        return
    channel = bus._k("t", topic)
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while dict(await bus._redis.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
        assert asyncio.get_running_loop().time() < deadline, f"never subscribed to {topic}"
        await asyncio.sleep(0.01)


async def test_publish_reaches_other_nodes_in_order_and_not_itself(nodes: Any) -> None:
    a, b = await nodes(), await nodes()
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    await a.subscribe("t", got_a.append)
    await b.subscribe("t", got_b.append)
    await b.subscribe("other", lambda _m: pytest.fail("wrong topic"))
    await listening(b, "t")
    for n in range(200):
        a.publish("t", str(n).encode())
    await until(lambda: len(got_b) == 200)
    assert got_b == [str(n).encode() for n in range(200)]
    await asyncio.sleep(0.05)
    assert got_a == []


async def test_presence_is_one_member_per_user_across_nodes(nodes: Any) -> None:
    a, b = await nodes(), await nodes()
    first = await a.presence_join("presence-c", "1.1", "ana", '{"n":1}', 100)
    assert first.added
    second = await b.presence_join("presence-c", "2.2", "ana", '{"n":2}', 100)
    assert not second.added and not second.full
    again = await b.presence_join("presence-c", "2.2", "ana", '{"n":2}', 100)
    assert not again.added
    assert await a.presence_members("presence-c") == {"ana": '{"n":1}'}
    assert await a.presence_leave("presence-c", "1.1") is None
    assert await b.presence_leave("presence-c", "2.2") == "ana"
    assert await b.presence_leave("presence-c", "2.2") is None
    assert await a.presence_members("presence-c") == {}


async def test_presence_member_limit(nodes: Any) -> None:
    a, b = await nodes(), await nodes()
    assert (await a.presence_join("presence-l", "1.1", "u1", "null", 2)).added
    assert (await b.presence_join("presence-l", "2.1", "u2", "null", 2)).added
    assert (await a.presence_join("presence-l", "1.2", "u3", "null", 2)).full
    assert not (await a.presence_join("presence-l", "1.3", "u1", "null", 2)).full


async def test_occupancy_is_cluster_wide(nodes: Any) -> None:
    a, b = await nodes(), await nodes()
    assert await a.occupancy_add("c", 1) == 1
    assert await b.occupancy_add("c", 1) == 2
    assert await a.occupancy() == {"c": 2}
    assert await a.occupancy_add("c", -1) == 1
    assert await b.occupancy_add("c", -1) == 0
    assert await b.occupancy() == {}


async def test_a_dead_redis_node_is_reaped(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    survivor = RedisBus(redis_url, node_timeout_s=0.6)
    doomed = RedisBus(redis_url, node_timeout_s=0.6)
    losses: list[NodeLoss] = []

    async def on_loss(loss: NodeLoss) -> None:
        losses.append(loss)

    survivor.on_node_lost(on_loss)
    await survivor.start()
    await doomed.start()
    try:
        await survivor.presence_join("presence-d", "1.1", "ana", "null", 100)
        await doomed.presence_join("presence-d", "2.1", "ken", "null", 100)
        await doomed.presence_join("presence-d", "2.2", "ana", "null", 100)
        await doomed.occupancy_add("presence-d", 2)
        await doomed.occupancy_add("only-doomed", 1)
        await survivor.occupancy_add("presence-d", 1)
        await doomed.abandon()
        await until(lambda: bool(losses))
        (loss,) = losses
        assert loss.node_id == doomed.node_id
        assert loss.removed_members == [("presence-d", "ken")]
        assert loss.vacated == ["only-doomed"]
        assert await survivor.presence_members("presence-d") == {"ana": "null"}
        assert await survivor.occupancy() == {"presence-d": 1}
    finally:
        await survivor.close()


async def test_redis_ping_fails_when_redis_is_unreachable() -> None:
    from tests.support.procs import free_port

    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(Exception):  # noqa: B017 - any connection error will do
        await bus.ping()
    await bus.abandon()


def test_make_bus_picks_the_backend() -> None:
    assert isinstance(make_bus(BusSettings()), InMemoryBus)
    assert isinstance(make_bus(BusSettings(redis_url=Secret("redis://127.0.0.1:1/0"))), RedisBus)


async def test_publish_confirmed_reaches_other_nodes(nodes: Any) -> None:
    a, b = await nodes(), await nodes()
    got: list[bytes] = []
    await b.subscribe("t", got.append)
    assert a.available and b.available
    await a.ping()
    # A Redis node hears of its peers through heartbeats; until then a confirmed publish
    # may be refused, never silently dropped.
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        try:
            await a.publish_confirmed("t", [b"1", b"2"])
            break
        except BusUnavailable:
            assert asyncio.get_running_loop().time() < deadline, "never confirmed"
            await asyncio.sleep(0.05)
    await until(lambda: got[-2:] == [b"1", b"2"])


async def test_a_redis_bus_without_redis_refuses_instead_of_dropping() -> None:
    from tests.support.procs import free_port

    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    assert not bus.available
    with pytest.raises(BusUnavailable):
        await bus.publish_confirmed("t", [b"x"])
    with pytest.raises(BusUnavailable):
        await bus.presence_join("presence-x", "1.1", "ana", "null", 100)
    await bus.abandon()
