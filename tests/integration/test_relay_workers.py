"""The relay spread over worker processes: placement, media, a killed worker, figures.

Real worker processes (``python -m relay.worker``), real aiortc peers in this process, real
SIGKILL. Everything meets on loopback, so the workers are started through a command that makes
aioice offer 127.0.0.1 first (the same stand-in the in-process relay tests use); faults are
injected the same way, in the worker's own start-up code.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bench.media import ColourVideoTrack, loopback_host_addresses, offer
from config.settings import RelaySettings
from panamia.app import create_app
from relay.errors import RecordingRefused, RelayFull, RelayUnavailable
from relay.pool import WorkerPool, worker_count
from store.models import Session
from tests.conftest import SettingsFactory
from tests.support.apiclient import user
from tests.support.sessions import open_room_start
from web import keys

LOOPBACK_PRELUDE = (
    "import aioice.ice; from bench.media import loopback_host_addresses; "
    "aioice.ice.get_host_addresses = loopback_host_addresses; "
)
LOOPBACK_WORKER = (sys.executable, "-c", LOOPBACK_PRELUDE + "from relay.worker import main; main()")


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    relay = WorkerPool(
        RelaySettings(max_sessions=8), [], workers=2, command=LOOPBACK_WORKER, log_json=True
    )
    await relay.start()
    await relay.wait_started()
    yield relay
    await relay.close()


class Peer:
    """A participant: publishes a coloured picture and counts the video frames it gets."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ColourVideoTrack((200, 40, 40)))
        self.pc.addTransceiver("audio", direction="recvonly")
        self.frames = 0
        self._readers: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def join(self, relay: WorkerPool, session: str, name: str) -> None:
        sdp, kind = await offer(self.pc)
        answer_sdp, answer_type = await relay.answer(session, name, sdp, kind)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, answer_type))

    async def close(self) -> None:
        await self.pc.close()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` (a sanity bound, never a performance assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.1)


async def call(relay: WorkerPool, session: str) -> tuple[Peer, Peer]:
    alice, bob = Peer(), Peer()
    await alice.join(relay, session, "alice")
    await bob.join(relay, session, "bob")
    return alice, bob


def worker_of(relay: WorkerPool, session: str) -> int:
    index = relay.worker_of(session)
    assert index is not None
    assert relay.stats()["workers"][index]["sessions"] >= 1
    return index


def test_zero_workers_means_one_per_core() -> None:
    assert worker_count(0) == len(os.sched_getaffinity(0))
    assert worker_count(3) == 3


async def test_sessions_go_to_the_least_loaded_worker_and_their_media_flows(
    pool: WorkerPool,
) -> None:
    assert pool.unavailable_reason is None
    pids = {row["pid"] for row in pool.stats()["workers"]}
    assert len(pids) == 2 and os.getpid() not in pids
    first = await call(pool, "s1")
    second = await call(pool, "s2")
    peers = [*first, *second]
    try:
        # One session on each worker: the second went to the one carrying none.
        assert {worker_of(pool, "s1"), worker_of(pool, "s2")} == {0, 1}
        await until(lambda: all(peer.frames >= 10 for peer in peers), "video both ways")
        assert pool.has_participant("s1", "alice") and pool.has_participant("s2", "bob")
        # Figures are summed over the workers and given per worker (reports every second).
        await until(lambda: pool.stats()["peer_connections"] == 4, "4 connections reported")
        stats = pool.stats()
        assert stats["sessions"] == 2
        per_worker = [row["streams"] for row in stats["workers"]]
        assert per_worker[0] == per_worker[1] > 0 and stats["streams"] == sum(per_worker)
        assert all(row["cpu_seconds"] > 0 and row["rss_bytes"] > 0 for row in stats["workers"])
        assert all(row["cpu_load"] >= 0 for row in stats["workers"])
        assert stats["packets_forwarded"] > 0
        # A call ends: its worker closes it, and it is placed anew next time.
        assert await pool.end("s1")
        assert not pool.has_participant("s1", "alice")
        await until(lambda: pool.stats()["peer_connections"] == 2, "s1 closed in its worker")
    finally:
        for peer in peers:
            await peer.close()


async def test_a_killed_worker_is_replaced_and_its_call_renegotiates_onto_a_live_one(
    pool: WorkerPool,
) -> None:
    alice, bob = await call(pool, "s1")
    peers = [alice, bob]
    try:
        await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video before the kill")
        index = worker_of(pool, "s1")
        victim = pool.stats()["workers"][index]["pid"]
        os.kill(victim, signal.SIGKILL)
        # Noticed at once: the session is forgotten and another process takes the slot.
        await until(lambda: not pool.has_participant("s1", "alice"), "the session dropped")
        await until(
            lambda: (
                pool.stats()["workers"][index]["pid"] not in (victim, None)
                and pool.stats()["workers_alive"] == 2
            ),
            "the worker replaced",
            timeout=60,
        )
        assert pool.stats()["worker_restarts"] == 1
        # The media stopped; the pages' watchdog re-offers (here: the peers do it by hand).
        stalled = alice.frames
        await asyncio.sleep(1.0)
        assert alice.frames - stalled <= 2
        for peer in peers:
            await peer.close()
        alice, bob = await call(pool, "s1")
        peers = [alice, bob]
        await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video after renegotiating")
        assert pool.unavailable_reason is None
    finally:
        for peer in peers:
            await peer.close()


async def test_a_session_on_a_worker_is_recorded_there(pool: WorkerPool, tmp_path: Path) -> None:
    # Recording commands cross to the session's worker; its refusals come back as the
    # relay's own errors and the finished part is described to the web process.
    with pytest.raises(RecordingRefused):
        await pool.start_recording("s1", str(tmp_path / "nobody.webm"))
    alice, bob = await call(pool, "s1")
    try:
        await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video both ways")
        path = tmp_path / "part.webm"
        await pool.start_recording("s1", str(path))
        assert pool.is_recording("s1")
        with pytest.raises(RecordingRefused):
            await pool.start_recording("s1", str(tmp_path / "again.webm"))
        await asyncio.sleep(2.0)
        result = await pool.stop_recording("s1")
        assert result is not None and result.error is None, result
        assert not pool.is_recording("s1")
        assert Path(result.path) == path and result.size_bytes == path.stat().st_size > 0
        assert result.streams == 2 and result.duration_s > 0
        assert await pool.stop_recording("s1") is None
    finally:
        await alice.close()
        await bob.close()


async def test_a_failing_self_check_in_a_worker_disables_the_relay() -> None:
    # Fault injection in the worker: an aiortc release without a private name the relay uses.
    broken = (
        sys.executable,
        "-c",
        "from aiortc.rtcrtpsender import RTCRtpSender; del RTCRtpSender._send_keyframe; "
        "from relay.worker import main; main()",
    )
    relay = WorkerPool(RelaySettings(), [], workers=1, command=broken, log_json=True)
    await relay.start()
    await relay.wait_started()
    try:
        reason = relay.unavailable_reason
        assert reason is not None and "'_send_keyframe'" in reason
        with pytest.raises(RelayUnavailable):
            await relay.answer("s1", "alice", "v=0\r\n")
    finally:
        await relay.close()


async def test_the_app_runs_workers_and_reports_them_in_readyz_and_metrics(
    aiohttp_client: AiohttpClient, make_settings: SettingsFactory
) -> None:
    app = create_app(make_settings(relay={"workers": 1}))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    relay = app[keys.RELAY]
    assert isinstance(relay, WorkerPool)
    # The server listens at once; it is ready for relayed calls once its worker runs.
    await relay.wait_started()
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["relay_workers"] == {"running": 1, "configured": 1}
    await until(lambda: relay.stats()["workers"][0]["cpu_seconds"] > 0, "a first report")
    metrics = await (await client.get("/metrics")).text()
    assert 'panamia_relay_worker_up{worker="0"} 1.0' in metrics
    assert 'panamia_relay_worker_cpu_seconds_total{worker="0"}' in metrics
    assert 'panamia_relay_worker_recycles_total{worker="0"} 0.0' in metrics
    # With its only worker gone, the node is not ready for relayed calls until the
    # replacement is up.
    pid = relay.stats()["workers"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    await until(lambda: relay.stats()["workers_alive"] == 0, "the death noticed")
    dead = await client.get("/readyz")
    if relay.stats()["workers_alive"] == 0:  # the replacement may already be up
        assert dead.status == 503
        assert "relay worker" in (await dead.json())["problems"]["relay"]
    await until(lambda: relay.stats()["workers_alive"] == 1, "the replacement", timeout=60)
    assert (await client.get("/readyz")).status == 200
    restarts = await (await client.get("/metrics")).text()
    assert 'panamia_relay_worker_restarts_total{worker="0"} 1.0' in restarts


SLOW_WORKER = (
    sys.executable,
    "-c",
    "import time; time.sleep(1.5); " + LOOPBACK_PRELUDE + "from relay.worker import main; main()",
)
"""A worker that takes a while to come up, as on a busy machine right after a deploy."""


async def test_a_first_offer_waits_for_the_worker_being_started() -> None:
    # The node listens before its worker runs; a call placed in that moment is answered once
    # the worker is up, not refused.
    relay = WorkerPool(RelaySettings(), [], workers=1, command=SLOW_WORKER, log_json=True)
    await relay.start()
    try:
        assert relay.unavailable_reason is not None  # /readyz still says not ready
        alice, bob = await call(relay, "s1")
        try:
            assert relay.stats()["workers_alive"] == 1
            await until(lambda: alice.frames >= 10 and bob.frames >= 10, "video both ways")
        finally:
            await alice.close()
            await bob.close()
    finally:
        await relay.close()


async def test_the_offer_endpoint_answers_while_the_worker_starts(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Through HTTP: a participant's offer in the node's first seconds gets its answer (no
    # early 503 because no worker runs yet).
    import panamia.app

    # Fault injection: the node's pool with a worker slow to start.
    def slow_pool(app: web.Application) -> WorkerPool:
        return WorkerPool(app[keys.SETTINGS].relay, [], workers=1, command=SLOW_WORKER)

    monkeypatch.setattr(panamia.app, "build_relay", slow_pool)
    app = create_app(make_settings())
    server = await aiohttp_server(app)
    mentee = await user(aiohttp_client, server, "mentee@example.org")
    await app[keys.STORE].create_session(
        Session(
            "slowstart1",
            "mentor@example.org",
            "mentee@example.org",
            open_room_start(),
            30,
            "Slow start",
        )
    )
    relay = app[keys.RELAY]
    assert isinstance(relay, WorkerPool)
    assert relay.stats()["workers_alive"] == 0
    peer = Peer()
    try:
        sdp, kind = await offer(peer.pc)
        response = await mentee.post(
            "/api/relay/sessions/slowstart1/offer", json={"sdp": sdp, "type": kind}
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["type"] == "answer"
        assert relay.stats()["workers_alive"] == 1
    finally:
        await peer.close()


async def test_an_offer_gives_up_when_no_worker_comes_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import relay.pool

    monkeypatch.setattr(relay.pool, "OFFER_WAITS_FOR_WORKER_S", 1.0)
    dying = (sys.executable, "-c", "raise SystemExit(3)")
    pool = WorkerPool(RelaySettings(), [], workers=1, command=dying, log_json=True)
    await pool.start()
    try:
        started = time.monotonic()
        with pytest.raises(RelayUnavailable, match="no relay worker is running"):
            await pool.answer("s1", "alice", "v=0\r\n")
        assert time.monotonic() - started >= 0.9
        assert pool.worker_of("s1") is None
    finally:
        await pool.close()


async def test_closing_the_pool_ends_an_offer_waiting_for_a_worker() -> None:
    never = (sys.executable, "-c", "import time; time.sleep(60)")
    pool = WorkerPool(RelaySettings(), [], workers=1, command=never, log_json=True)
    await pool.start()
    waiting = asyncio.ensure_future(pool.answer("s1", "alice", "v=0\r\n"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await pool.close()
    with pytest.raises(RelayFull, match="shutting down"):
        await waiting
