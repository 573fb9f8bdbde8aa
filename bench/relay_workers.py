"""Relay worker scaling: one relay worker process against two, at full frame rate.

``python -m bench.relay_workers`` runs, for each worker count (default 1 and 2) and stream
count, a fresh :class:`relay.pool.WorkerPool` with that many ``python -m relay.worker``
processes, and in this process the load of :mod:`bench.relay`: per stream one publisher
replaying a pre-encoded 640x480@30 VP8 stream (about 1 Mbit/s) and one subscriber counting
the frames it gets. Each stream is its own session, so the pool spreads them over the workers
as it places calls (least-loaded first).

How the load generator's CPU is kept apart from the relay's, on a machine where they share
the cores: every figure comes from per-process accounting. Each worker's CPU is read from
``/proc/<pid>/stat`` (user + system ticks) before and after the window; the generator's own
CPU is this process's ``getrusage(RUSAGE_SELF)``, which does not include its children (the
workers). With ``--pin``, worker *i* is pinned to CPU *i* and the generator to the last CPU:
with one worker on two cores, the relay and the generator each have a core of their own; with
two workers, the generator shares the last core with worker 1, so the largest stream count
that still runs at full frame rate is then bounded by the machine, not by the relay.

The capacity printed per point is therefore the relay's own: for each worker, the core left
after its idle cost (measured before any stream) divided by the CPU it spends per 30 video
frames a second delivered to its subscribers (one full-rate stream), summed over the workers.
The ratio of the two-worker capacity to the one-worker capacity, at the largest stream count
that held full frame rate in both runs (else the largest measured in both, marked
provisional), is the scaling figure; the ``placed`` column shows how the pool spread the
sessions.
Figures on a shared 2-core machine are noisy: compare within one run.

With ``--worker-cpu CORES`` the bench runs the fairer measurement of :mod:`bench.relay_scaling`
instead: every worker capped at the same CPU budget by a cgroup, the load from separate
generator processes, and a search for the most streams carried at full frame rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench import relay_scaling
from bench.media import (
    LOOPBACK_RELAY_WORKER,
    PacketLoopTrack,
    describe_vp8_load,
    encode_vp8_loop,
    loopback_only,
    offer,
)
from bench.procstat import own_cpu_seconds
from config.settings import RelaySettings
from relay.pool import WorkerPool

RTX_PAYLOAD_TYPE = 98
"""aiortc's default payload type for VP8's retransmissions (never counted as frames)."""
FULL_RATE_FPS = 29.0
"""A stream counts as full frame rate at or above this mean over the window."""
LOOPBACK_WORKER = LOOPBACK_RELAY_WORKER
"""A relay worker that gathers 127.0.0.1 only, as the load generator does (bench.relay too)."""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Point:
    workers: int
    streams: int
    worker_streams: list[int]
    worker_cpu_per_s: list[float]
    worker_rss_mb: list[float]
    worker_idle_cpu_per_s: list[float]
    worker_frames_per_s: list[float]
    """Video frames per second the subscribers of each worker's streams received."""
    """Each worker's CPU before any stream (its timers): not a cost of the streams."""
    fps_mean: float
    fps_min: float
    load_cpu_per_s: float
    pinned: dict[str, list[int]] = field(default_factory=dict)

    @property
    def relay_cpu_per_s(self) -> float:
        return sum(self.worker_cpu_per_s)

    @property
    def cpu_per_stream(self) -> float:
        return self.relay_cpu_per_s / self.streams

    @property
    def capacity(self) -> float:
        """Streams the workers would carry at full frame rate with one core each: per worker,
        the core left after its idle cost divided by the CPU it spends per 30 delivered
        frames a second (one full-rate stream), summed. Counting delivered frames keeps the
        figure honest when a starved machine delivers fewer than 30 per stream."""
        total = 0.0
        for frames, cpu, idle in zip(
            self.worker_frames_per_s,
            self.worker_cpu_per_s,
            self.worker_idle_cpu_per_s,
            strict=True,
        ):
            if frames > 0 and cpu > idle:
                total += (1.0 - idle) / ((cpu - idle) / (frames / 30.0))
        return total

    @property
    def full_rate(self) -> bool:
        return self.fps_mean >= FULL_RATE_FPS and self.fps_min >= FULL_RATE_FPS - 1.5


def _pin(pool: WorkerPool, cpus: list[int] | None) -> dict[str, list[int]]:
    """Worker i to CPU i; this process (the load generator) to the last CPU."""
    if not cpus:
        return {}
    layout: dict[str, list[int]] = {}
    for worker in pool.workers:
        if worker is not None and worker.pid is not None:
            cpu = cpus[worker.index % len(cpus)]
            os.sched_setaffinity(worker.pid, {cpu})
            layout[f"worker{worker.index}"] = [cpu]
    os.sched_setaffinity(0, {cpus[-1]})
    layout["load"] = [cpus[-1]]
    return layout


async def measure(
    workers: int,
    streams: int,
    frames: list[bytes],
    warmup: float,
    window: float,
    cpus: list[int] | None,
) -> Point:
    pool = WorkerPool(
        RelaySettings(max_sessions=100_000),
        [],
        workers=workers,
        command=LOOPBACK_WORKER,
        log_level="WARNING",
        log_json=True,
    )
    await pool.start()
    await pool.wait_started()
    if pool.unavailable_reason is not None:
        await pool.close()
        raise RuntimeError(pool.unavailable_reason)
    layout = _pin(pool, cpus)
    pids = [worker.pid for worker in pool.workers if worker is not None and worker.pid]
    idle_window = max(1.0, window / 4)
    idle_before = [process_cpu_seconds(pid) for pid in pids]
    await asyncio.sleep(idle_window)
    idle = [
        (process_cpu_seconds(pid) - b) / idle_window
        for pid, b in zip(pids, idle_before, strict=True)
    ]
    print(f"   connecting {streams} streams over {workers} worker(s)...", end="", flush=True)
    pcs: list[RTCPeerConnection] = []
    counts = [0] * streams
    all_receiving = asyncio.Event()
    try:
        for index in range(streams):
            publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            publisher.addTransceiver(PacketLoopTrack(frames), direction="sendonly")
            subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            receiver = subscriber.addTransceiver("video", direction="recvonly").receiver

            async def count(packet: Any, arrival_time_ms: int, index: int = index) -> None:
                # A frame's last packet carries the marker bit: counting those keeps the load
                # generator cheap (it neither reassembles nor decodes).
                if packet.marker and packet.payload_type != RTX_PAYLOAD_TYPE:
                    counts[index] += 1
                    if counts[index] == 1 and min(counts) > 0:
                        all_receiving.set()

            receiver._handle_rtp_packet = count  # type: ignore[method-assign]
            pcs += [publisher, subscriber]
            for name, pc in (("pub", publisher), ("sub", subscriber)):
                sdp, kind = await offer(pc)
                answer_sdp, answer_type = await pool.answer(f"s{index}", name, sdp, kind)
                await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, answer_type))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_receiving.wait(), 30)
        receiving = sum(1 for value in counts if value)
        print(f" {receiving}/{streams} receiving; measuring", flush=True)
        await asyncio.sleep(warmup)
        placed = [row["sessions"] for row in pool.worker_stats()]
        cpu_before = [process_cpu_seconds(pid) for pid in pids]
        counts_before = list(counts)
        load_before = own_cpu_seconds()
        started = time.monotonic()
        await asyncio.sleep(window)
        elapsed = time.monotonic() - started
        cpu_after = [process_cpu_seconds(pid) for pid in pids]
        load_cpu = (own_cpu_seconds() - load_before) / elapsed
        rss = [process_rss_mb(pid) for pid in pids]
        fps = [(counts[i] - counts_before[i]) / elapsed for i in range(streams)]
        frames_per_worker = [0.0] * len(pids)
        for index, rate in enumerate(fps):
            slot = pool.worker_of(f"s{index}")
            if slot is not None and slot < len(frames_per_worker):
                frames_per_worker[slot] += rate
    finally:
        for pc in pcs:
            await pc.close()
        await pool.close()
    return Point(
        workers=workers,
        streams=streams,
        worker_streams=placed,
        worker_cpu_per_s=[(a - b) / elapsed for a, b in zip(cpu_after, cpu_before, strict=True)],
        worker_rss_mb=rss,
        worker_idle_cpu_per_s=idle,
        worker_frames_per_s=frames_per_worker,
        fps_mean=sum(fps) / len(fps),
        fps_min=min(fps),
        load_cpu_per_s=load_cpu,
        pinned=layout,
    )


def _print_point(point: Point) -> None:
    shares = "/".join(str(n) for n in point.worker_streams)
    cpus = "/".join(f"{cpu:.2f}" for cpu in point.worker_cpu_per_s)
    print(
        f"{point.workers:>7}{point.streams:>5}{shares:>9}{cpus:>13}{point.cpu_per_stream:>12.4f}"
        f"{point.capacity:>10.0f}{point.fps_mean:>8.1f}{point.fps_min:>8.1f}"
        f"{point.load_cpu_per_s:>9.2f}  {'yes' if point.full_rate else 'no'}",
        flush=True,
    )


def summarise(points: list[Point]) -> dict[str, Any]:
    """Capacity per worker count at the largest stream count at full rate in every run."""
    by_workers: dict[int, dict[int, Point]] = {}
    for point in points:
        by_workers.setdefault(point.workers, {})[point.streams] = point
    counts = sorted(by_workers)
    common = [
        n
        for n in sorted(set.intersection(*(set(runs) for runs in by_workers.values())))
        if all(by_workers[w][n].full_rate for w in counts)
    ]
    summary: dict[str, Any] = {"at_streams": common[-1] if common else None, "capacity": {}}
    print()
    for workers in counts:
        full = [p for p in by_workers[workers].values() if p.full_rate]
        largest = max((p.streams for p in full), default=0)
        print(f"{workers} worker(s): largest stream count at full frame rate here: {largest}")
    provisional = ""
    if not common:
        common = sorted(set.intersection(*(set(runs) for runs in by_workers.values())))
        provisional = " (NOT at full frame rate: the machine was starved; provisional)"
        print("no stream count held full frame rate in every run" + provisional)
        if not common:
            return summary
        summary["at_streams"] = common[-1]
    n = common[-1]
    for workers in counts:
        point = by_workers[workers][n]
        summary["capacity"][workers] = point.capacity
        print(
            f"{workers} worker(s) at N={n}: relay CPU {point.relay_cpu_per_s:.2f} core-s/s, "
            f"{point.cpu_per_stream * 1000:.2f} ms CPU per stream-second, "
            f"capacity {point.capacity:.0f} streams at full frame rate (one core per worker)"
        )
    if len(counts) >= 2 and summary["capacity"][counts[0]] > 0:
        ratio = summary["capacity"][counts[-1]] / summary["capacity"][counts[0]]
        summary["ratio"] = ratio
        print(f"ratio {counts[-1]} workers / {counts[0]} worker(s): {ratio:.2f}x{provisional}")
    return summary


async def run(args: argparse.Namespace) -> None:
    machine = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(machine) >= 2
    cpus = machine if pin else None
    frames = encode_vp8_loop()
    print(describe_vp8_load(frames))
    print(
        f"pinned (worker i to CPU i, the load generator to the last CPU): {pin}; "
        f"window {args.window}s; CPU per process from /proc/<pid>/stat and getrusage(SELF)"
    )
    print(
        f"{'workers':>7}{'N':>5}{'placed':>9}{'cpu s/s':>13}{'cpu/stream':>12}"
        f"{'capacity':>10}{'fps':>8}{'minfps':>8}{'load cpu':>9}  full rate"
    )
    points: list[Point] = []
    with loopback_only():
        for workers in args.workers:
            print(f"-- {workers} worker process(es)", flush=True)
            for streams in args.streams:
                point = await measure(workers, streams, frames, args.warmup, args.window, cpus)
                points.append(point)
                _print_point(point)
    summarise(points)
    print("(2 shared cores: figures are noisy; the load generator shares the machine)")


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    # The pool logs each placement at INFO: keep the table readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bench.relay_workers", description=__doc__)
    parser.add_argument("--workers", type=_counts, default=[1, 2])
    parser.add_argument("--streams", type=_counts, default=[8, 16, 32, 64])
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin worker i to CPU i and the load generator to the last CPU",
    )
    relay_scaling.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        asyncio.run(relay_scaling.run(args) if args.worker_cpu is not None else run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: workers, load generators and cgroups are gone", flush=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
