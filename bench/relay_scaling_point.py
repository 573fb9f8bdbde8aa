"""One point of the worker scaling bench: a fresh pool of capped workers, the load
generator processes, one measured window (:func:`measure_point`), and what it found
(:class:`ScalingPoint`). The search and the report are in :mod:`bench.relay_scaling`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.cgroup import CpuCaps, Throttling, nice_weight, open_cpu_caps
from bench.media import LOOPBACK_RELAY_WORKER
from bench.ports import free_port
from bench.procstat import own_cpu_seconds, process_cpu_seconds
from config.settings import RelaySettings
from relay import errors
from relay.pool import WorkerPool
from relay.worker_process import worker_environment

DELIVERED_SHARE = 0.95
"""Full frame rate: the subscribers got at least this share of the frames sent in the window."""
WORST_STREAM_SHARE = 0.90
"""... and no single stream got less than this share."""
SATURATED_SHARE = 0.5
SATURATED_CPU = 0.8
"""A worker that used at least this share of its budget and was throttled in at least
SATURATED_SHARE of the periods has reached its cap: the relay, not the load, is the limit."""
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class WorkerShare:
    """One worker's part of a point."""

    sessions: int
    streams: int
    cpu_per_s: float
    throttled: float | None
    """Share of the cap's periods in which the worker used up its budget (None: no cap)."""


@dataclass
class ScalingPoint:
    workers: int
    streams: int
    receiving: int
    per_worker: list[WorkerShare]
    sent_fps: float
    """Frames per second per stream the publishers sent (30 unless the generator starved)."""
    received_fps: float
    worst_share: float
    """The lowest received / sent share of any stream."""
    generator_cpu_per_s: float
    web_cpu_per_s: float
    cap: float | None
    relay_per_s: dict[str, float] = field(default_factory=dict)
    """The workers' packet counters per second over the window (reports lag up to 1 s)."""

    @property
    def delivered(self) -> float:
        return self.received_fps / self.sent_fps if self.sent_fps else 0.0

    @property
    def full_rate(self) -> bool:
        return (
            self.receiving == self.streams
            and self.delivered >= DELIVERED_SHARE
            and self.worst_share >= WORST_STREAM_SHARE
        )

    @property
    def verdict(self) -> str:
        """``yes`` at full rate; otherwise whether the workers had used up their budget (the
        relay's limit) or not (frames lost elsewhere: a starved generator, a loaded machine)."""
        if self.full_rate:
            return "yes"
        if self.at_cap:
            return "no: worker at its cap"
        if abs(self.sent_fps - 30.0) > 1.0:
            return f"no: generator starved (sent {self.sent_fps:.1f} fps)"
        return "no: not at the cap (generator or machine)"

    @property
    def at_cap(self) -> bool:
        """A worker used (nearly) its whole budget and was throttled in most periods."""
        if self.cap is None:
            return False
        return any(
            w.cpu_per_s >= SATURATED_CPU * self.cap
            and (w.throttled is None or w.throttled >= SATURATED_SHARE)
            for w in self.per_worker
        )

    @property
    def relay_cpu_per_stream(self) -> float:
        return sum(w.cpu_per_s for w in self.per_worker) / self.streams

    @property
    def generator_cpu_per_stream(self) -> float:
        return self.generator_cpu_per_s / self.streams


# --- the pieces of one point -----------------------------------------------------------


@contextlib.asynccontextmanager
async def offer_endpoint(pool: WorkerPool) -> AsyncIterator[str]:
    """``POST /offer`` into the pool, as the web app's relay route does; yields its URL."""

    async def handle_offer(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sdp, kind = await pool.answer(
                body["session"], body["participant"], body["sdp"], body["type"]
            )
        except errors.RelayError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        return web.json_response({"sdp": sdp, "type": kind})

    app = web.Application()
    app.router.add_post("/offer", handle_offer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Generator:
    """A ``bench.relay_generator`` process carrying streams ``first`` .. ``first+count-1``."""

    def __init__(self, process: asyncio.subprocess.Process, first: int, count: int) -> None:
        self.process = process
        self.first = first
        self.count = count

    async def read(self, timeout_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"load generator {self.process.pid} ended")
        message: dict[str, Any] = json.loads(line)
        if message.get("event") == "failed":
            raise RuntimeError(f"load generator failed: {message.get('error')}")
        return message

    async def snap(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"snap\n")
        await self.process.stdin.drain()
        return await self.read(30)

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def generators(
    url: str, streams: int, processes: int, frames_file: Path
) -> AsyncIterator[list[Generator]]:
    """Start the generator processes, each with an even share of the streams (their first
    line says when they are wired); stop them on the way out."""
    shares = [streams // processes + (i < streams % processes) for i in range(processes)]
    started: list[Generator] = []
    env = worker_environment(str(PROJECT_ROOT))
    try:
        first = 0
        for count in filter(None, shares):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.relay_generator",
                url,
                str(first),
                str(count),
                str(frames_file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
            started.append(Generator(process, first, count))
            first += count
        yield started
    finally:
        await asyncio.gather(*(g.stop() for g in started))


@dataclass
class Snapshot:
    at: float
    worker_cpu: list[float]
    throttling: list[Throttling | None]
    generators: list[dict[str, Any]]
    web_cpu: float
    relay: dict[str, float]
    """The workers' totals (packets in, forwarded, dropped...), as of their last report."""


async def snapshot(
    pool: WorkerPool, pids: list[int], caps: CpuCaps | None, gens: list[Generator]
) -> Snapshot:
    at = time.monotonic()
    cpu = [process_cpu_seconds(pid) for pid in pids]
    throttling = [caps.throttling(f"worker{i}") if caps else None for i in range(len(pids))]
    snaps = await asyncio.gather(*(g.snap() for g in gens))
    return Snapshot(at, cpu, throttling, snaps, own_cpu_seconds(), relay_totals(pool))


RELAY_TOTALS = ("packets_in", "packets_forwarded", "packets_dropped", "keyframe_requests")


def relay_totals(pool: WorkerPool) -> dict[str, float]:
    stats = pool.stats()
    return {key: float(stats.get(key, 0)) for key in RELAY_TOTALS}


def _point(
    workers: int,
    streams: int,
    receiving: int,
    pool: WorkerPool,
    before: Snapshot,
    after: Snapshot,
    cap: float | None,
) -> ScalingPoint:
    elapsed = after.at - before.at
    sent = [0] * streams
    received = [0] * streams
    generator_cpu = 0.0
    for gen_before, gen_after, first in zip(
        before.generators, after.generators, _firsts(before.generators), strict=True
    ):
        generator_cpu += gen_after["cpu"] - gen_before["cpu"]
        for slot, (s0, s1, r0, r1) in enumerate(
            zip(
                gen_before["sent"],
                gen_after["sent"],
                gen_before["received"],
                gen_after["received"],
                strict=True,
            )
        ):
            sent[first + slot] = s1 - s0
            received[first + slot] = r1 - r0
    rows = pool.worker_stats()
    per_worker = []
    for index, row in enumerate(rows):
        throttle_after = after.throttling[index]
        throttle_before = before.throttling[index]
        per_worker.append(
            WorkerShare(
                sessions=int(row["sessions"]),
                streams=int(row["streams"]),
                cpu_per_s=(after.worker_cpu[index] - before.worker_cpu[index]) / elapsed,
                throttled=throttle_after.since(throttle_before)
                if throttle_after and throttle_before
                else None,
            )
        )
    shares = [r / s if s else 0.0 for r, s in zip(received, sent, strict=True)]
    return ScalingPoint(
        workers=workers,
        streams=streams,
        receiving=receiving,
        per_worker=per_worker,
        sent_fps=sum(sent) / streams / elapsed,
        received_fps=sum(received) / streams / elapsed,
        worst_share=min(shares),
        generator_cpu_per_s=generator_cpu / elapsed,
        web_cpu_per_s=(after.web_cpu - before.web_cpu) / elapsed,
        cap=cap,
        relay_per_s={k: (after.relay[k] - before.relay[k]) / elapsed for k in after.relay},
    )


def _firsts(snaps: list[dict[str, Any]]) -> list[int]:
    firsts, first = [], 0
    for snap in snaps:
        firsts.append(first)
        first += len(snap["sent"])
    return firsts


@dataclass
class Setup:
    """What every point of a run shares."""

    frames_file: Path
    worker_cpu: float | None
    """The cap per worker in cores; None when cgroups are unavailable (no cap)."""
    period_us: int
    generators: int
    warmup: float
    window: float
    nice: int = 0
    """Scheduling priority given to the workers and generator processes."""
    split_cores: bool = False
    """Workers on the first half of the CPUs, generators on the rest (during the window)."""


async def measure_point(workers: int, streams: int, setup: Setup) -> ScalingPoint:
    """A fresh pool of ``workers`` capped workers carrying ``streams`` streams, one window."""
    pool = WorkerPool(
        RelaySettings(max_sessions=100_000),
        [],
        workers=workers,
        command=LOOPBACK_RELAY_WORKER,
        log_level="WARNING",
        log_json=True,
    )
    async with contextlib.AsyncExitStack() as stack:
        await pool.start()
        stack.push_async_callback(pool.close)
        await pool.wait_started()
        if pool.unavailable_reason is not None:
            raise RuntimeError(pool.unavailable_reason)
        pids = [w.pid for w in pool.workers if w is not None and w.pid is not None]
        caps = None
        weight = nice_weight(setup.nice)
        if setup.worker_cpu is not None:
            caps = open_cpu_caps(setup.period_us)
            stack.callback(caps.close)
            # The parent group competes with the rest of the machine as one task would, so
            # it weighs as much as all of its children together.
            caps.weigh(caps.parent, weight * (len(pids) + setup.generators))
            for index, pid in enumerate(pids):
                caps.add(f"worker{index}", pid, weight)
        url = await stack.enter_async_context(offer_endpoint(pool))
        gens = await stack.enter_async_context(
            generators(url, streams, setup.generators, setup.frames_file)
        )
        for index, gen in enumerate(gens):
            renice(gen.process.pid, setup.nice)
            if caps is not None:  # uncapped, but weighed like the workers (not autogrouped)
                caps.add(f"generator{index}", gen.process.pid, weight, capped=False)
        wired = await asyncio.gather(*(g.read(120 + streams) for g in gens))
        receiving = sum(int(message["receiving"]) for message in wired)
        progress(f"{receiving}/{streams} receiving; capped, warming up")
        if caps is not None:
            caps.limit(setup.worker_cpu)
        if setup.split_cores:
            split_cores(pids, [g.process.pid for g in gens])
        await asyncio.sleep(setup.warmup)
        before = await snapshot(pool, pids, caps, gens)
        await asyncio.sleep(setup.window)
        after = await snapshot(pool, pids, caps, gens)
        return _point(workers, streams, receiving, pool, before, after, setup.worker_cpu)
    raise AssertionError("unreachable: the exit stack never swallows an exception")


def split_cores(workers: list[int], generators: list[int]) -> None:
    """Every thread of the workers on the first half of this process's CPUs, of the
    generators on the other half (nothing to split on one CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return
    half = len(cpus) // 2
    for pids, allowed in ((workers, set(cpus[:half])), (generators, set(cpus[half:]))):
        for pid in pids:
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), allowed)


def renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` at priority ``nice`` (Linux priorities are per thread)."""
    if not nice:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


def progress(text: str) -> None:
    print(f"   .. {text}", flush=True)
