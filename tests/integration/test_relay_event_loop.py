"""relay.event_loop in real worker processes: each loop is the one asked for, and carries a call.

The worker pool's own tests run on the default (uvloop); here a worker runs asyncio's loop and
a call goes through it (real ICE, DTLS and SRTP between aiortc peers here and the worker).
"""

from __future__ import annotations

import pytest

from bench.media import loopback_host_addresses
from config.settings import RelaySettings
from relay.eventloop import EventLoopName
from relay.pool import WorkerPool
from tests.integration.test_relay_workers import LOOPBACK_WORKER, call, until


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
async def test_a_worker_runs_the_configured_event_loop_and_forwards_media(
    event_loop: EventLoopName,
) -> None:
    if event_loop == "uvloop":
        pytest.importorskip("uvloop")
    settings = RelaySettings(max_sessions=2, event_loop=event_loop)
    pool = WorkerPool(settings, [], workers=1, command=LOOPBACK_WORKER, log_json=True)
    await pool.start()
    await pool.wait_started()
    try:
        worker = pool.workers[0]
        assert worker is not None and worker.event_loop == event_loop
        alice, bob = await call(pool, "s1")
        try:
            await until(lambda: alice.frames >= 5 and bob.frames >= 5, "video both ways")
            await until(lambda: pool.stats()["packets_forwarded"] > 0, "forwarding reported")
            # The socket hook works on this loop's transport: media took the fast path.
            assert pool.stats()["packets_fast"] > 0
        finally:
            await alice.close()
            await bob.close()
    finally:
        await pool.close()
