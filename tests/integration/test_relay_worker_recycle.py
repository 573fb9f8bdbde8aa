"""An idle relay worker that has loaded the media stack is replaced by a fresh, small one.

Real worker processes, real aiortc peers in this process, a short recycle time (1-1.5 s) and
reports four times a second. What a worker has loaded is read from its ``/proc/<pid>/maps``,
its size from ``/proc/<pid>/smaps_rollup``. The workers are started through a command that only
makes aioice offer 127.0.0.1 (it imports nothing of aiortc), so a fresh worker is as small as
in production.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from bench.media import ColourVideoTrack, offer
from bench.relay_idle import loaded_stacks, memory_of
from config.settings import RelaySettings
from relay.pool import WorkerPool
from tests.integration.test_relay_worker_memory import LOOPBACK_ONLY_WORKER
from tests.integration.test_relay_workers import LOOPBACK_WORKER, Peer, call, until

PoolFactory = Callable[..., Awaitable[WorkerPool]]


@pytest.fixture
async def make_pool() -> AsyncIterator[PoolFactory]:
    pools: list[WorkerPool] = []

    async def make(recycle_s: float, workers: int = 1) -> WorkerPool:
        relay = WorkerPool(
            RelaySettings(worker_idle_recycle_s=recycle_s),
            [],
            workers=workers,
            command=LOOPBACK_ONLY_WORKER,
            log_json=True,
            report_interval_s=0.25,
        )
        pools.append(relay)
        await relay.start()
        await relay.wait_started()
        assert relay.unavailable_reason is None
        return relay

    yield make
    for relay in pools:
        await relay.close()


def pid_of(relay: WorkerPool, slot: int = 0) -> int:
    pid = relay.stats()["workers"][slot]["pid"]
    assert isinstance(pid, int)
    return pid


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def load_media_stack(relay: WorkerPool, session: str) -> None:
    """One answered offer loads aiortc in the worker; the session then ends."""
    peer = Peer()
    try:
        await peer.join(relay, session, "alice")
    finally:
        await peer.close()
    assert await relay.end(session)


async def a_ready_offer() -> tuple[RTCPeerConnection, str]:
    """An offer made in advance, so a test can place a session at a moment it chooses."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ColourVideoTrack((40, 40, 200)))
    sdp, _kind = await offer(pc)
    return pc, sdp


def test_the_setting_is_validated_and_off_with_preloaded_workers() -> None:
    with pytest.raises(ValueError, match="worker_idle_recycle_s"):
        RelaySettings(worker_idle_recycle_s=-1)
    assert WorkerPool(RelaySettings(), [], workers=1).idle_recycle_s == 300.0
    assert WorkerPool(RelaySettings(worker_idle_recycle_s=0), [], workers=1).idle_recycle_s == 0
    preloaded = RelaySettings(worker_preload=True, worker_idle_recycle_s=5)
    assert WorkerPool(preloaded, [], workers=1).idle_recycle_s == 0


async def test_a_worker_idle_after_a_call_is_replaced_by_a_fresh_one_and_calls_work_after(
    make_pool: PoolFactory,
) -> None:
    relay = await make_pool(1.5)
    first = pid_of(relay)
    await until(lambda: relay.stats()["workers"][0]["cpu_seconds"] > 0, "a first report")
    fresh_rss = memory_of(first)["rss_mb"]
    assert loaded_stacks(first) == []
    assert not relay.stats()["workers"][0]["media_stack"]

    # A worker carrying a session is never recycled, however long the call lasts.
    alice, bob = await call(relay, "s1")
    try:
        await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video both ways")
        await until(lambda: relay.stats()["workers"][0]["media_stack"], "the stack reported")
        loaded_rss = memory_of(first)["rss_mb"]
        await asyncio.sleep(3 * relay.idle_recycle_s)
        assert pid_of(relay) == first and relay.recycling is None
        assert relay.stats()["worker_recycles"] == 0
        frames = alice.frames
        await until(lambda: alice.frames > frames + 5, "video still flowing")
    finally:
        await relay.end("s1")
        await alice.close()
        await bob.close()
    await until(lambda: relay.stats()["packets_forwarded"] > 0, "the call's figures reported")
    forwarded = relay.stats()["packets_forwarded"]

    # Idle again: a fresh process takes the slot, back near the fresh size, without aiortc.
    await until(lambda: pid_of(relay) != first, "the idle worker recycled", timeout=60)
    second = pid_of(relay)
    stats = relay.stats()
    assert stats["worker_recycles"] == 1 and stats["workers"][0]["recycles"] == 1
    assert stats["worker_restarts"] == 0 and stats["workers_alive"] == 1
    assert stats["packets_forwarded"] >= forwarded  # the retired worker's totals are kept
    await until(lambda: gone(first), "the old process ended")
    assert loaded_stacks(second) == []
    recycled_rss = memory_of(second)["rss_mb"]
    assert recycled_rss < fresh_rss + 6, (fresh_rss, loaded_rss, recycled_rss)
    assert recycled_rss < loaded_rss - 10, (fresh_rss, loaded_rss, recycled_rss)

    # A call placed after the recycle works on the fresh worker.
    alice, bob = await call(relay, "s2")
    try:
        await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video after recycling")
        assert pid_of(relay) == second and relay.worker_of("s2") == 0
    finally:
        await relay.end("s2")
        await alice.close()
        await bob.close()


async def test_a_worker_that_never_carried_a_session_is_not_recycled() -> None:
    # This start-up command imports aiortc before the worker runs: replacing such a worker
    # would give back the same, so only a worker that was sent a call is recycled.
    relay = WorkerPool(
        RelaySettings(worker_idle_recycle_s=0.5),
        [],
        workers=1,
        command=LOOPBACK_WORKER,
        log_json=True,
        report_interval_s=0.25,
    )
    await relay.start()
    await relay.wait_started()
    try:
        first = pid_of(relay)
        await until(lambda: relay.stats()["workers"][0]["media_stack"], "the stack reported")
        await asyncio.sleep(4 * relay.idle_recycle_s)
        assert pid_of(relay) == first and relay.recycling is None
        assert relay.stats()["worker_recycles"] == 0
    finally:
        await relay.close()


async def test_a_placement_while_the_only_worker_is_being_replaced_calls_it_off(
    make_pool: PoolFactory,
) -> None:
    relay = await make_pool(1.0)
    first = pid_of(relay)
    await load_media_stack(relay, "s1")
    pc, sdp = await a_ready_offer()
    try:
        await until(lambda: relay.recycling == 0, "the fresh worker starting", timeout=60)
        # Placed at once (no await before the placement): the old worker takes it, being the
        # only one in service, and must not be swapped out under it.
        answer, _kind = await relay.answer("s2", "bob", sdp)
        assert answer.startswith("v=0")
        assert relay.worker_of("s2") == 0
        await until(lambda: relay.recycling is None, "the recycling over")
        await asyncio.sleep(2 * relay.idle_recycle_s)
        assert pid_of(relay) == first
        assert relay.has_participant("s2", "bob")
        assert relay.stats()["worker_recycles"] == 0
    finally:
        await relay.end("s2")
        await pc.close()


async def test_a_placement_while_a_worker_is_being_replaced_goes_to_another_one(
    make_pool: PoolFactory,
) -> None:
    relay = await make_pool(1.0, workers=2)
    await load_media_stack(relay, "s1")  # on worker 0 (both free: the lower slot)
    first = pid_of(relay, 0)
    other = pid_of(relay, 1)
    pc, sdp = await a_ready_offer()
    try:
        await until(lambda: relay.recycling == 0, "worker 0's fresh process starting", timeout=60)
        await relay.answer("s2", "bob", sdp)
        assert relay.worker_of("s2") == 1
        await until(lambda: pid_of(relay, 0) != first, "worker 0 recycled", timeout=60)
        assert pid_of(relay, 1) == other and relay.worker_of("s2") == 1
        stats = relay.stats()
        assert stats["workers"][0]["recycles"] == 1 and stats["workers"][1]["recycles"] == 0
        assert stats["worker_restarts"] == 0
    finally:
        await relay.end("s2")
        await pc.close()


def worker_children() -> set[int]:
    """Relay worker processes that are children of this one (a pool's workers and spares)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"relay.worker" in cmdline:
            children.add(int(entry.name))
    return children


async def test_closing_the_pool_while_a_worker_is_being_replaced_leaves_no_process(
    make_pool: PoolFactory,
) -> None:
    before = worker_children()
    relay = await make_pool(1.0)
    await load_media_stack(relay, "s1")
    await until(lambda: relay.recycling == 0, "the fresh worker starting", timeout=60)
    await relay.close()
    assert worker_children() - before == set()
