"""A relay worker stays small until a session needs more: aiortc at the first session, PyAV
(FFmpeg) only when a session transcodes or records.

Real worker processes (``python -m relay.worker``); what each has loaded is read from its
``/proc/<pid>/maps`` (libsrtp for aiortc's stack, libavcodec for PyAV). The workers that carry
calls are started through a command that only makes aioice offer 127.0.0.1 (everything meets
on loopback) and imports nothing else, so PyAV stays deferred as in a production worker.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.media import ColourVideoTrack, mean_colour
from bench.relay_idle import loaded_stacks
from config.settings import RelaySettings
from relay.pool import WorkerPool
from tests.integration.test_relay_media import (
    BLUE,
    RED,
    Peer,
    close_to,
    join,
    make_peer,
    only,
    until,
)

LOOPBACK_ONLY_WORKER = (
    sys.executable,
    "-c",
    "import aioice.ice; "
    "aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ['127.0.0.1']; "
    "from relay.worker import main; main()",
)


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    from bench.media import loopback_host_addresses

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    relay = WorkerPool(RelaySettings(), [], workers=1, command=LOOPBACK_ONLY_WORKER)
    await relay.start()
    await relay.wait_started()
    yield relay
    await relay.close()


def worker_pid(relay: WorkerPool) -> int:
    pid = relay.stats()["workers"][0]["pid"]
    assert isinstance(pid, int)
    return pid


async def test_a_fresh_worker_has_loaded_neither_aiortc_nor_pyav() -> None:
    relay = WorkerPool(
        RelaySettings(), [], workers=1, command=(sys.executable, "-m", "relay.worker")
    )
    await relay.start()
    await relay.wait_started()
    try:
        # Its compatibility self-check ran (in a child interpreter) and passed.
        assert relay.unavailable_reason is None
        assert loaded_stacks(worker_pid(relay)) == []
        await until(lambda: relay.stats()["workers"][0]["cpu_seconds"] > 0)
        assert relay.stats()["sessions"] == 0
    finally:
        await relay.close()


async def test_pyav_loads_when_a_relayed_call_is_recorded_not_before(
    pool: WorkerPool, tmp_path: Path
) -> None:
    alice, bob = make_peer(ColourVideoTrack(RED)), make_peer(ColourVideoTrack(BLUE))
    try:
        await join(pool, "s1", "alice", alice)
        await join(pool, "s1", "bob", bob)
        await until(lambda: len(alice.video) >= 5 and len(bob.video) >= 5, timeout=30)
        # Forwarding packets needs aiortc's stack, not FFmpeg.
        assert loaded_stacks(worker_pid(pool)) == ["aiortc"]
        path = tmp_path / "s1.webm"
        await pool.start_recording("s1", str(path))
        await asyncio.sleep(1.5)
        result = await pool.stop_recording("s1")
        assert result is not None and result.error is None, result
        assert path.stat().st_size > 0
        assert loaded_stacks(worker_pid(pool)) == ["aiortc", "PyAV"]
    finally:
        await pool.end("s1")
        await close(alice, bob)


async def test_a_worker_with_deferred_pyav_transcodes(pool: WorkerPool) -> None:
    """alice offers H.264 only, bob VP8 only: the worker loads PyAV and re-encodes."""
    alice, bob = make_peer(ColourVideoTrack(RED)), make_peer(ColourVideoTrack(BLUE))
    only(alice, "video/H264")
    only(bob, "video/VP8")
    try:
        await join(pool, "mixed", "alice", alice)
        await join(pool, "mixed", "bob", bob)
        await until(lambda: len(alice.video) >= 5 and len(bob.video) >= 5, timeout=40)
        assert close_to(mean_colour(bob.video[-1]), RED)
        assert close_to(mean_colour(alice.video[-1]), BLUE)
        await until(lambda: pool.stats()["transcoding"] == 2)
        assert "PyAV" in loaded_stacks(worker_pid(pool))
    finally:
        await pool.end("mixed")
        await close(alice, bob)


async def close(*peers: Peer) -> None:
    for peer in peers:
        await peer.close()
