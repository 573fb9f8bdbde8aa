"""Idle memory of a relay worker process, beside Janus's: ``python -m bench.relay_idle``.

Measures real relay worker processes (``python -m relay.worker``, started by
:class:`relay.pool.WorkerPool` as the app starts them), each in a stated state, and prints
their resident set size, proportional set size (PSS: shared pages divided among the processes
mapping them) and unique set size (USS: private pages), read from
``/proc/<pid>/smaps_rollup``, and which native libraries they have mapped:

* ``fresh worker``: started, self-check passed, no session yet (aiortc not imported);
* ``after a session``: the same worker once one relayed call (two aiortc peers in this
  process, a few seconds of video both ways) has ended and the worker has handed freed
  memory back;
* ``recycled``: the fresh process the pool put in that worker's place once it had been idle
  for ``relay.worker_idle_recycle_s`` (``--recycle-seconds``, 10 by default);
* ``preloaded worker``: a fresh worker with ``relay.worker_preload = true`` (aiortc imported
  at start, PyAV still deferred).

It also times the first relayed join (the first offer's answer) on a fresh and on a preloaded
worker: the difference is what loading the media stack at the first session costs. Janus
1.1.2 (the same VideoRoom/HTTP-only configuration :mod:`bench.relay` uses), idle, is the
baseline. Then the import steps in one interpreter, in the order a worker takes them, with
the RSS each adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEPS = (
    ("asyncio", "asyncio"),
    ("structlog", "structlog"),
    ("relay.worker", "relay.worker"),
    ("OpenSSL", "OpenSSL"),
    ("pylibsrtp", "pylibsrtp"),
    ("aioice", "aioice"),
    ("aiortc", "aiortc"),
    ("relay.manager", "relay.manager"),
    ("av (PyAV)", "av.codec"),
)
"""(label, module) imported in this order, each on top of the previous ones: what a fresh
worker holds (to relay.worker), what its first session adds (to relay.manager, with PyAV
deferred), and what transcoding or recording adds (PyAV)."""

AFTER_CALL_S = 4.0
"""Idle seconds before the "after a session" figure (the worker trims two reports after)."""

MARKERS = {"aiortc": "pylibsrtp", "PyAV": "libavcodec"}
"""A native library whose mapping shows a stack is loaded in a process."""


def memory_of(pid: int | str = "self") -> dict[str, float]:
    """RSS, PSS and USS (private pages) of a process, in MB."""
    values: dict[str, float] = {}
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    for line in rollup.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            values[key] = int(rest.split()[0]) / 1024
    return {
        "rss_mb": values.get("Rss", 0.0),
        "pss_mb": values.get("Pss", 0.0),
        "uss_mb": values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0),
    }


def loaded_stacks(pid: int | str) -> list[str]:
    """Which of :data:`MARKERS` the process has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text(encoding="ascii", errors="replace")
    return [name for name, marker in MARKERS.items() if marker in maps]


def probe() -> list[tuple[str, float]]:
    """Run inside a bare interpreter: import step by step (PyAV deferred as in a worker)."""
    steps: list[tuple[str, float]] = [("interpreter", memory_of()["rss_mb"])]
    for label, module in STEPS:
        if module == "OpenSSL":
            from relay import lazy_av

            lazy_av.defer()
        if module == "av.codec":
            from relay import lazy_av

            lazy_av.load()
        __import__(module)
        steps.append((label, memory_of()["rss_mb"]))
    return steps


# --- real worker processes --------------------------------------------------------------


async def _wait(condition: Callable[[], bool], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the relay worker did not get there in time")
        await asyncio.sleep(0.1)


class _Peer:
    """A participant: publishes a coloured picture and counts the video frames it gets."""

    def __init__(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        from bench.media import ColourVideoTrack

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ColourVideoTrack((40, 160, 40)))
        self.frames = 0
        self._readers: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def join(self, relay: Any, session: str, name: str) -> float:
        """Offer through the relay; seconds the relay took to answer."""
        from aiortc import RTCSessionDescription

        from bench.media import offer

        sdp, kind = await offer(self.pc)
        started = time.perf_counter()
        answer_sdp, answer_type = await relay.answer(session, name, sdp, kind)
        took = time.perf_counter() - started
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, answer_type))
        return took

    async def close(self) -> None:
        await self.pc.close()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def _measure_worker(
    preload: bool, call_seconds: float, recycle_s: float = 0.0
) -> dict[str, Any]:
    from config.settings import RelaySettings
    from relay.pool import WorkerPool

    pool = WorkerPool(
        RelaySettings(worker_preload=preload, worker_idle_recycle_s=recycle_s),
        [],
        workers=1,
        command=(sys.executable, "-m", "relay.worker"),
        log_level="WARNING",
        log_json=True,
    )
    await pool.start()
    await pool.wait_started()
    result: dict[str, Any] = {}
    try:
        pid = pool.stats()["workers"][0]["pid"]
        await asyncio.sleep(2.0)  # settle: the first reports, nothing else
        result["fresh"] = {**memory_of(pid), "loaded": loaded_stacks(pid)}
        alice, bob = _Peer(), _Peer()
        try:
            result["first_answer_s"] = await alice.join(pool, "idle-bench", "alice")
            await bob.join(pool, "idle-bench", "bob")
            await _wait(lambda: alice.frames >= 10 and bob.frames >= 10, 60)
            await asyncio.sleep(call_seconds)
            result["frames"] = alice.frames + bob.frames
            result["during"] = {**memory_of(pid), "loaded": loaded_stacks(pid)}
        finally:
            await pool.end("idle-bench")
            await alice.close()
            await bob.close()
        await _wait(lambda: pool.stats()["peer_connections"] == 0, 30)
        await asyncio.sleep(AFTER_CALL_S)  # memory is handed back two reports after the call
        result["after"] = {**memory_of(pid), "loaded": loaded_stacks(pid)}
        if pool.idle_recycle_s:
            print(f"  .. waiting for the idle worker to be recycled ({recycle_s:g} s)", flush=True)
            await _wait(
                lambda: pool.stats()["workers"][0]["pid"] not in (pid, None), 60 + recycle_s
            )
            fresh = pool.stats()["workers"][0]["pid"]
            await _wait(lambda: pool.stats()["workers"][0]["cpu_seconds"] > 0, 30)
            await asyncio.sleep(2.0)  # settle, as for the fresh figure
            result["recycled"] = {**memory_of(fresh), "loaded": loaded_stacks(fresh)}
    finally:
        await pool.close()
    return result


async def _measure_janus() -> dict[str, Any] | str:
    from bench import janus

    missing = janus.missing_reason()
    if missing is not None:
        return missing
    async with janus.running_janus(1, False) as server:
        await asyncio.sleep(2.0)
        return memory_of(server.pid)


async def _measure_all(call_seconds: float, recycle_s: float) -> dict[str, Any]:
    # Media meets on the machine's own addresses (aioice leaves loopback out), as in a node.
    print("  .. a fresh worker, then one relayed call through it", flush=True)
    lazy = await _measure_worker(False, call_seconds, recycle_s)
    print("  .. a worker with relay.worker_preload = true", flush=True)
    preloaded = await _measure_worker(True, call_seconds)
    print("  .. janus", flush=True)
    return {"lazy": lazy, "preloaded": preloaded, "janus": await _measure_janus()}


def _row(label: str, memory: dict[str, Any], janus: dict[str, Any] | str) -> str:
    loaded = ", ".join(memory.get("loaded", [])) or "-"
    ratio = f"{memory['rss_mb'] / janus['rss_mb']:>9.2f}" if isinstance(janus, dict) else ""
    return (
        f"{label:<38}{memory['rss_mb']:>8.1f}{memory['pss_mb']:>8.1f}{memory['uss_mb']:>8.1f}"
        f"{ratio:>9}   {loaded}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_idle", description=__doc__)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--call-seconds", type=float, default=3.0, help="how long the relayed call runs"
    )
    parser.add_argument(
        "--recycle-seconds",
        type=float,
        default=10.0,
        help="relay.worker_idle_recycle_s for the worker that carries the call (longer than "
        f"the {AFTER_CALL_S:g} s the idle-after figure waits)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.recycle_seconds <= AFTER_CALL_S + 1:
        parser.error(f"--recycle-seconds must be more than {AFTER_CALL_S + 1:g}")
    if args.probe:
        print(json.dumps(probe()))
        return
    figures = asyncio.run(_measure_all(args.call_seconds, args.recycle_seconds))
    lazy, preloaded, janus = figures["lazy"], figures["preloaded"], figures["janus"]
    print(f"\n{'process (state)':<38}{'RSS MB':>8}{'PSS':>8}{'USS':>8}{'RSS/Janus':>9}   loaded")
    print(_row("relay worker, fresh (no session yet)", lazy["fresh"], janus))
    print(_row("relay worker, during a relayed call", lazy["during"], janus))
    print(_row("relay worker, idle again after it", lazy["after"], janus))
    print(_row("  the same, once recycled", lazy["recycled"], janus))
    print(_row("relay worker, preloaded, fresh", preloaded["fresh"], janus))
    print(_row("relay worker, preloaded, after a call", preloaded["after"], janus))
    if isinstance(janus, dict):
        print(_row("janus 1.1.2 (VideoRoom + HTTP), idle", janus, janus))
    else:
        print(f"janus skipped: {janus}")
    print(
        f"first relayed join (answer to the first offer): {lazy['first_answer_s'] * 1000:.0f} ms "
        f"on a fresh worker (loads the media stack), "
        f"{preloaded['first_answer_s'] * 1000:.0f} ms on a preloaded one"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.relay_idle", "--probe"],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    previous = 0.0
    print(f"\n{'import step (one interpreter)':<30}{'RSS MB':>8}{'added':>8}")
    for name, rss in steps:
        print(f"{name:<30}{rss:>8.1f}{rss - previous:>8.1f}")
        previous = rss
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "steps": steps}, indent=2))


if __name__ == "__main__":
    main()
