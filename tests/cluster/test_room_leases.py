"""Room leases against a real redis-server: one owner per room, kept through a Redis restart,
taken over when the owner dies, never split between two nodes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.integration.test_redis_outage import RedisProcess
from tests.support.procs import find_tool
from web.rooms.lease import RoomLeases, RoomsUnavailable

TTL_S = 2.0
NODE_A = "http://node-a.internal:8080"
NODE_B = "http://node-b.internal:8080"
PREFIX = "panamia:rooms:"


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    binary = find_tool("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it: apt-get install redis-server)")
    server = RedisProcess(binary)
    server.start()
    # Something else may have taken the free port first: then this redis-server exited.
    assert server.proc is not None and server.proc.poll() is None, "redis-server did not start"
    yield server
    if server.proc is not None:
        server.kill()


@pytest.fixture
async def nodes(redis_proc: RedisProcess) -> AsyncIterator[tuple[RoomLeases, RoomLeases]]:
    # A Redis the cluster has used before: no grace period to wait out (a fresh one opens
    # one, as it cannot tell a first start from a restart; the restart tests show it).
    client = Redis.from_url(redis_proc.url, socket_timeout=5, socket_connect_timeout=5)
    await client.set(PREFIX + "epoch", "1")
    await client.aclose()
    a = RoomLeases(redis_proc.url, NODE_A, TTL_S, prefix=PREFIX)
    b = RoomLeases(redis_proc.url, NODE_B, TTL_S, prefix=PREFIX)
    for node in (a, b):
        node.busy_when(lambda _session: True)
        await node.start()
    yield a, b
    for node in (a, b):
        await node.close()


async def _watch_split(a: RoomLeases, b: RoomLeases, room: str, seconds: float) -> int:
    """How often both nodes counted the room as theirs at once while watching."""
    splits = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        splits += a.holds(room) and b.holds(room)
        await asyncio.sleep(0.02)
    return splits


async def test_first_claim_wins_and_others_see_the_owner(
    nodes: tuple[RoomLeases, RoomLeases],
) -> None:
    a, b = nodes
    first, second = await asyncio.gather(a.resolve("s1", claim=True), b.resolve("s1", claim=True))
    assert first == second
    assert first is not None
    assert a.holds("s1") != b.holds("s1")
    assert await b.resolve("nobody-yet", claim=False) is None


async def test_a_clean_stop_hands_the_room_over_at_once(
    nodes: tuple[RoomLeases, RoomLeases],
) -> None:
    a, b = nodes
    lost: list[str] = []

    async def on_lost(session_id: str) -> None:
        lost.append(session_id)

    a.on_lost(on_lost)
    owner = await a.resolve("s2", claim=True)
    assert owner is not None and owner.url == NODE_A
    await a.release("s2")
    assert lost == ["s2"]
    taken = await b.resolve("s2", claim=True)
    assert taken is not None and taken.url == NODE_B and taken.fence > owner.fence


async def _stall_after_a_confirmed_renewal(
    node: RoomLeases, session_id: str, monkeypatch: pytest.MonkeyPatch
) -> float:
    """Let ``node`` finish one renewal round that Redis confirmed for ``session_id``, then
    stall for good, as a killed process would; return when that round's answers came back.

    Redis applied the last renewal before its answer arrived, so the lease lapses at most a
    TTL after the returned time. Stopping the owner at an arbitrary moment instead leaves a
    renewal in flight that a busy Redis may apply a good while later, moving the expiry on.
    """
    renew_round = node.renew_all
    stalled: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def renew_then_stall() -> None:
        started = time.monotonic()
        await renew_round()
        if node._held[session_id].confirmed_at >= started:
            stalled.set_result(time.monotonic())
            await asyncio.Event().wait()  # never renews again

    monkeypatch.setattr(node, "renew_all", renew_then_stall)
    return await asyncio.wait_for(stalled, TTL_S * 10)


async def test_a_dead_owner_s_lease_lapses_within_the_ttl(
    nodes: tuple[RoomLeases, RoomLeases], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    await a.resolve("s3", claim=True)
    died = await _stall_after_a_confirmed_renewal(a, "s3", monkeypatch)
    # What is timed is when each question was put, not when its answer came back: a
    # question put after the TTL must not see the dead owner, however slow the answer is on a
    # busy machine. The slack is Redis's expiry resolution.
    while True:
        asked = time.monotonic()
        owner = await b.resolve("s3", claim=True)
        assert owner is not None
        if owner.url == NODE_B:
            break
        assert asked - died < TTL_S + 0.05, "the dead owner's lease outlived its TTL"
        assert time.monotonic() - died < TTL_S * 5, "node B never took the room"
        await asyncio.sleep(0.1)
    assert not a.holds("s3")  # a stalled owner stops counting the room as its own, too


async def test_a_redis_restart_never_splits_a_room(
    nodes: tuple[RoomLeases, RoomLeases], redis_proc: RedisProcess
) -> None:
    a, b = nodes
    owner = await a.resolve("s4", claim=True)
    assert owner is not None and a.holds("s4")
    redis_proc.kill()
    redis_proc.start()  # empty: every lease is gone
    watch = asyncio.create_task(_watch_split(a, b, "s4", TTL_S * 2))
    # Node B asks at once, before node A's next renewal: it must not get the room.
    try:
        seen = await b.resolve("s4", claim=True)
    except RoomsUnavailable:
        seen = await b.resolve("s4", claim=True)
    assert seen == owner
    assert await watch == 0
    assert a.holds("s4") and not b.holds("s4")


async def test_an_owner_cut_off_from_redis_gives_the_room_up_before_anyone_takes_it(
    nodes: tuple[RoomLeases, RoomLeases], redis_proc: RedisProcess
) -> None:
    a, b = nodes
    lost: list[str] = []

    async def on_lost(session_id: str) -> None:
        lost.append(session_id)

    a.on_lost(on_lost)
    await a.resolve("s5", claim=True)
    redis_proc.kill()
    await asyncio.sleep(TTL_S)  # longer than A may serve without a renewal
    assert not a.holds("s5") and lost == ["s5"]
    redis_proc.start()
    watch = asyncio.create_task(_watch_split(a, b, "s5", TTL_S * 1.5))
    owner = await b.resolve("s5", claim=True, wait_s=TTL_S * 2)
    assert owner is not None and owner.url == NODE_B
    assert await watch == 0


async def test_closing_stops_the_renewals_even_when_the_cancel_is_lost(
    nodes: tuple[RoomLeases, RoomLeases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel that races a Redis command's own timeout comes back as the client's timeout
    error, which a renewal round survives (seen on a loaded machine: close() then waited for
    the renewal loop for ever)."""
    a, _b = nodes
    await a.resolve("s6", claim=True)
    renew_round = a.renew_all
    inside = asyncio.Event()
    lost: list[bool] = []

    async def renew_losing_one_cancel() -> None:
        if len(lost) > 1:
            raise asyncio.CancelledError  # the test gave up: end the loop for the teardown
        if lost:
            await renew_round()
            return
        inside.set()
        try:
            await asyncio.sleep(TTL_S * 10)
        except asyncio.CancelledError:
            lost.append(True)  # injected: the round carries on as after a timeout error

    monkeypatch.setattr(a, "renew_all", renew_losing_one_cancel)
    await asyncio.wait_for(inside.wait(), TTL_S * 5)
    closing = asyncio.create_task(a.close())
    done, _pending = await asyncio.wait({closing}, timeout=TTL_S * 5)
    if not done:
        lost.append(True)
        await closing
    assert done, "close() still waits for the renewal loop"
    assert lost == [True]
    assert a._task is not None and a._task.done()
    assert not a.holds("s6")


async def test_a_close_can_itself_be_cancelled(
    nodes: tuple[RoomLeases, RoomLeases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shutdown that gives up on a hung renewal round must be able to stop waiting: close()
    passes its own cancellation on instead of swallowing it."""
    a, _b = nodes
    await a.resolve("s7", claim=True)
    inside = asyncio.Event()
    hung = True

    async def renew_that_hangs() -> None:
        inside.set()
        while hung:
            with contextlib.suppress(asyncio.CancelledError):  # a round that will not end
                await asyncio.sleep(TTL_S * 10)

    monkeypatch.setattr(a, "renew_all", renew_that_hangs)
    await asyncio.wait_for(inside.wait(), TTL_S * 5)
    closing = asyncio.create_task(a.close())
    await asyncio.sleep(0.1)
    closing.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(closing, TTL_S * 5)
    finally:
        hung = False  # let the fixture's own close() finish
        assert a._task is not None
        a._task.cancel()
