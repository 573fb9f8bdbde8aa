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
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

import msgspec

from bench.cgroup import DEFAULT_PERIOD_US, CgroupUnavailable, open_cpu_caps
from bench.media import describe_vp8_load, encode_vp8_loop, loopback_only
from bench.relay_scaling_point import (
    DELIVERED_SHARE,
    WORST_STREAM_SHARE,
    ScalingPoint,
    Setup,
    measure_point,
    progress,
)


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


# --- printing and the run --------------------------------------------------------------


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
    if not point.full_rate and point.relay_per_s:
        rates = point.relay_per_s
        print(
            f"{'':12}relay per second: {rates['packets_in']:.0f} packets in, "
            f"{rates['packets_forwarded']:.0f} forwarded, {rates['packets_dropped']:.0f} "
            f"dropped, {rates['keyframe_requests']:.1f} keyframe requests",
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


async def confirm(
    found: dict[int, int], setup: Setup, rounds: int, points: list[ScalingPoint]
) -> str:
    """Measure the fewest workers at their largest count and the most workers at the ideal
    multiple of it, alternately, ``rounds`` times: one sitting for both, so a machine whose
    load drifts between the two searches cannot tilt the answer."""
    counts = sorted(found)
    if rounds <= 0 or len(counts) < 2 or not found[counts[0]]:
        return ""
    few, many = counts[0], counts[-1]
    base = found[few]
    target = base * many // few
    print(f"-- confirming: {few} worker(s) x {base} streams, then {many} x {target}", flush=True)
    print(HEADER, flush=True)
    held = 0
    for _ in range(rounds):
        for workers, streams in ((few, base), (many, target)):
            progress(f"{workers} worker(s), {streams} streams: starting")
            point = await measure_point(workers, streams, setup)
            points.append(point)
            print_point(point)
            if workers == many and point.full_rate:
                held += 1
    return (
        f"confirmation: {many} workers carried {target} streams ({many // few}x the {base} of "
        f"{few}) at full frame rate in {held} of {rounds} round(s)"
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
    parser.add_argument(
        "--split-cores",
        action="store_true",
        help="workers on the first half of the CPUs, load generators on the other half",
    )
    parser.add_argument(
        "--confirm",
        type=int,
        default=1,
        metavar="ROUNDS",
        help="then measure 1 worker at its largest count and 2 at twice it, alternately",
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
    print(describe_vp8_load(frames))
    print(
        f"{where}; {args.generators} load generator processes uncapped (nice {args.nice}); "
        f"{'workers and generators on separate cores; ' if args.split_cores else ''}"
        f"window {args.window}s; "
        f"full rate: >= {DELIVERED_SHARE:.0%} of sent frames received "
        f"(each stream >= {WORST_STREAM_SHARE:.0%})"
    )
    points: list[ScalingPoint] = []
    found: dict[int, int] = {}
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main_task is not None:  # SIGTERM stops the run as Ctrl-C does: workers and groups go
        loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory() as folder,
        loopback_only(),
    ):
        stack.callback(loop.remove_signal_handler, signal.SIGTERM)
        frames_file = Path(folder) / "frames.msgpack"
        frames_file.write_bytes(msgspec.msgpack.encode(frames))
        setup = Setup(
            frames_file,
            cap,
            period_us,
            args.generators,
            args.warmup,
            args.window,
            args.nice,
            args.split_cores,
        )
        guess, previous = args.start, None
        for workers in args.workers:
            if previous is not None and found[previous]:  # start near the ideal share
                guess = max(1, found[previous] * workers // previous * 3 // 4)
            print(f"-- {workers} worker process(es): searching", flush=True)
            print(HEADER, flush=True)

            async def probe(streams: int, workers: int = workers) -> bool:
                for attempt in range(1 + args.retries):
                    progress(f"{workers} worker(s), {streams} streams: starting")
                    point = await measure_point(workers, streams, setup)
                    points.append(point)
                    print_point(point)
                    if point.full_rate or point.at_cap:
                        break
                    if attempt < args.retries:
                        progress("missed, but not at the relay's cap: measuring again")
                return point.full_rate

            found[workers] = await largest_passing(
                probe, guess, resolution=args.resolution, limit=args.max_streams
            )
            print(f"   => {workers} worker(s): {found[workers]} streams", flush=True)
            previous = workers
        confirmed = await confirm(found, setup, args.confirm, points)
    summarise(found, points, cap)
    if confirmed:
        print(confirmed)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"found": found, "points": [asdict(p) for p in points]}, indent=1)
        )
