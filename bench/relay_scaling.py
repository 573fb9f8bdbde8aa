"""Worker scaling at a fixed CPU budget per worker: ``python -m bench.relay_workers --worker-cpu``.

On a 2-core machine the load generator cannot be given a core of its own per worker, and it
costs more CPU per stream than the relay, so "as many streams as the machine takes" says more
about the generator than the relay. Here every relay worker gets the same fixed CPU budget
instead (a cgroup per worker process, :mod:`bench.cgroup`; ``--worker-cpu 0.25`` is a quarter
of a core each) and the generator gets the rest of the machine, split over ``--generators``
processes (:mod:`bench.relay_generator`) so that it is never the one that runs out. For one
worker and for two, a search (growing by half until a count fails, then bisecting) finds the
largest stream count carried at full frame rate: the subscribers receive at least 95 % of the
frames the publishers sent in the window (every stream at least 90 %). The ratio of the two
counts is the scaling figure (ideal: 2).

CPU is accounted per process: each worker from ``/proc/<pid>/stat``, each generator process
from its own ``getrusage(RUSAGE_SELF)``, this process (the pool and the offer endpoint, i.e.
the web process's part) from its own. The cap is lifted while streams are wired (DTLS
handshakes) and set before the warm-up, so only forwarding is measured under it. Per point
the table shows how the pool placed the sessions, each worker's streams, CPU and the share
of periods in which it hit its cap (a saturated worker is throttled in most of them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from bench.cgroup import (
    DEFAULT_PERIOD_US,
    CgroupUnavailable,
    CpuCaps,
    Throttling,
    nice_weight,
    open_cpu_caps,
)
from bench.media import LOOPBACK_RELAY_WORKER, encode_vp8_loop, loopback_only
from bench.ports import free_port
from bench.procstat import process_cpu_seconds
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


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


async def largest_passing(
    probe: Callable[[int], Awaitable[bool]],
    guess: int,
    *,
    growth: float = 1.5,
    resolution: float = 0.1,
    limit: int = 400,
) -> int:
    """The largest ``n`` for which ``probe(n)`` holds, assuming it holds up to some count and
    fails beyond: grow from ``guess`` by ``growth`` until a count fails, then bisect until
    the bracket is within ``resolution`` of the count (or one stream). 0 when even 1 fails."""
    good, bad = 0, None
    count = max(1, min(guess, limit))
    while True:
        if await probe(count):
            good = count
        else:
            bad = count
        if bad is None:
            if good >= limit:
                return good
            count = min(limit, max(good + 1, math.ceil(good * growth)))
        else:
            if bad - good <= max(1, math.floor(good * resolution)):
                return good
            count = (good + bad) // 2


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
    placed: list[int] = field(default_factory=list)


async def snapshot(pids: list[int], caps: CpuCaps | None, gens: list[Generator]) -> Snapshot:
    at = time.monotonic()
    cpu = [process_cpu_seconds(pid) for pid in pids]
    throttling = [caps.throttling(f"worker{i}") if caps else None for i in range(len(pids))]
    snaps = await asyncio.gather(*(g.snap() for g in gens))
    return Snapshot(at, cpu, throttling, snaps, _self_cpu())


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
            _renice(gen.process.pid, setup.nice)
            if caps is not None:  # uncapped, but weighed like the workers (not autogrouped)
                caps.add(f"generator{index}", gen.process.pid, weight, capped=False)
        wired = await asyncio.gather(*(g.read(120 + streams) for g in gens))
        receiving = sum(int(message["receiving"]) for message in wired)
        _progress(f"{receiving}/{streams} receiving; capped, warming up")
        if caps is not None:
            caps.limit(setup.worker_cpu)
        await asyncio.sleep(setup.warmup)
        before = await snapshot(pids, caps, gens)
        await asyncio.sleep(setup.window)
        after = await snapshot(pids, caps, gens)
        return _point(workers, streams, receiving, pool, before, after, setup.worker_cpu)
    raise AssertionError("unreachable: the exit stack never swallows an exception")


def _renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` at priority ``nice`` (Linux priorities are per thread)."""
    if not nice:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


# --- printing and the run --------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"   .. {text}", flush=True)


HEADER = (
    f"{'workers':>7}{'N':>5}{'sessions':>10}{'relayed':>10}{'cpu s/s':>12}{'capped':>11}"
    f"{'sent fps':>9}{'recv %':>8}{'worst %':>8}{'gen cpu':>8}{'web cpu':>8}  full rate"
)


def print_point(point: ScalingPoint) -> None:
    def joined(values: list[str]) -> str:
        return "/".join(values)

    workers = point.per_worker
    capped = [f"{w.throttled * 100:.0f}%" if w.throttled is not None else "-" for w in workers]
    print(
        f"{point.workers:>7}{point.streams:>5}"
        f"{joined([str(w.sessions) for w in workers]):>10}"
        f"{joined([str(w.streams) for w in workers]):>10}"
        f"{joined([f'{w.cpu_per_s:.2f}' for w in workers]):>12}{joined(capped):>11}"
        f"{point.sent_fps:>9.1f}{point.delivered * 100:>8.1f}{point.worst_share * 100:>8.1f}"
        f"{point.generator_cpu_per_s:>8.2f}{point.web_cpu_per_s:>8.2f}"
        f"  {point.verdict}",
        flush=True,
    )


def summarise(found: dict[int, int], points: list[ScalingPoint], cap: float | None) -> None:
    print()
    budget = f"{cap:g} core each" if cap is not None else "NO CAP (cgroups unavailable)"
    for workers, largest in found.items():
        best = [p for p in points if p.workers == workers and p.streams == largest]
        extra = ""
        if best:
            point = best[0]
            extra = (
                f": relay {point.relay_cpu_per_stream * 1000:.2f} ms CPU per stream-second, "
                f"generator {point.generator_cpu_per_stream * 1000:.2f}, "
                f"web process {point.web_cpu_per_s:.3f} core"
            )
        print(f"{workers} worker(s), {budget}: {largest} streams at full frame rate{extra}")
    counts = sorted(found)
    if len(counts) >= 2 and found[counts[0]] > 0:
        ratio = found[counts[-1]] / found[counts[0]]
        print(
            f"ratio {counts[-1]} workers / {counts[0]}: {ratio:.2f}x "
            f"(ideal {counts[-1] / counts[0]:g}x)"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--worker-cpu",
        type=float,
        default=None,
        metavar="CORES",
        help="cap every worker at CORES of CPU time with a cgroup and search the largest "
        "stream count at full frame rate per worker count (e.g. 0.25)",
    )
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--cfs-period-ms", type=float, default=DEFAULT_PERIOD_US / 1000)
    parser.add_argument("--start", type=int, default=16, help="first stream count of the search")
    parser.add_argument("--max-streams", type=int, default=400)
    parser.add_argument("--resolution", type=float, default=0.1)
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="measure a point again when it missed full rate without a worker at its cap",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of the generators, and the matching cgroup weight of the "
        "workers (negative: ahead of other jobs on a shared machine; needs root)",
    )
    parser.add_argument("--json", type=Path, default=None, help="keep every point here")


async def run(args: argparse.Namespace) -> None:
    cap: float | None = args.worker_cpu
    period_us = round(args.cfs_period_ms * 1000)
    try:
        open_cpu_caps(period_us).close()
        where = f"cgroups: {cap:g} core per worker, period {period_us / 1000:g} ms"
    except CgroupUnavailable as exc:
        print(
            f"cannot cap the workers' CPU ({exc}); measuring WITHOUT a cap: the counts then say "
            "what this machine carries with its load generators, not what a worker's budget "
            "carries, and the ratio is not the relay's scaling"
        )
        cap, where = None, "no cap"
    frames = encode_vp8_loop()
    kbits = sum(len(frame) for frame in frames) * 8 / (len(frames) / 30) / 1000
    print(f"load: 640x480@30 VP8, {len(frames)} frames looped, {kbits:.0f} kbit/s per stream")
    print(
        f"{where}; {args.generators} load generator processes uncapped (nice {args.nice}); "
        f"window {args.window}s; "
        f"full rate: >= {DELIVERED_SHARE:.0%} of sent frames received "
        f"(each stream >= {WORST_STREAM_SHARE:.0%})"
    )
    points: list[ScalingPoint] = []
    found: dict[int, int] = {}
    main_task = asyncio.current_task()
    if main_task is not None:  # SIGTERM stops the run as Ctrl-C does: workers and groups go
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory() as folder, loopback_only():
        frames_file = Path(folder) / "frames.msgpack"
        frames_file.write_bytes(msgspec.msgpack.encode(frames))
        setup = Setup(
            frames_file, cap, period_us, args.generators, args.warmup, args.window, args.nice
        )
        guess, previous = args.start, None
        for workers in args.workers:
            if previous is not None and found[previous]:  # start near the ideal share
                guess = max(1, found[previous] * workers // previous * 3 // 4)
            print(f"-- {workers} worker process(es): searching", flush=True)
            print(HEADER, flush=True)

            async def probe(streams: int, workers: int = workers) -> bool:
                for attempt in range(1 + args.retries):
                    _progress(f"{workers} worker(s), {streams} streams: starting")
                    point = await measure_point(workers, streams, setup)
                    points.append(point)
                    print_point(point)
                    if point.full_rate or point.at_cap:
                        break
                    if attempt < args.retries:
                        _progress("missed, but not at the relay's cap: measuring again")
                return point.full_rate

            found[workers] = await largest_passing(
                probe, guess, resolution=args.resolution, limit=args.max_streams
            )
            print(f"   => {workers} worker(s): {found[workers]} streams", flush=True)
            previous = workers
    summarise(found, points, cap)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"found": found, "points": [asdict(p) for p in points]}, indent=1)
        )
