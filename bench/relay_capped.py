"""Capacity under a CPU cap: ``python -m bench.relay --pin --against janus --cap 0.25``.

At light load the relay bench derives streams per core from the CPU one stream costs, but a
relay at saturation costs less per packet (uvloop reads the queued datagrams back to back),
so the figure that counts is capacity: give each server the same CPU budget and find the
most streams it carries at full frame rate. Here the server process (ours: ``bench.relay
serve --mode passthrough``; Janus: the janus process, every thread of it) goes into a cgroup
of its own (:mod:`bench.cgroup`), uncapped while the streams are wired (DTLS handshakes) and
capped at ``--cap`` cores from the warm-up on; the load generator runs uncapped (on CPU1
with ``--pin``). For each server :func:`bench.relay_scaling.largest_passing` searches the
largest stream count at full frame rate, by the scaling bench's rule
(:class:`bench.relay_scaling_point.ScalingPoint`: 95 % of the frames sent received, no
stream under 90 %). The two searches take turns, probe by probe, so both see the same
machine. Printed: streams at full rate under the cap, streams per core (streams / cap) and
ours / Janus; a point lost because the generator could not send at full rate says
``generator starved``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import janus
from bench.cgroup import DEFAULT_PERIOD_US, CgroupUnavailable, nice_weight, open_cpu_caps
from bench.media import encode_vp8_loop, loopback_only
from bench.relay_load import Point, Target, drive
from bench.relay_scaling import largest_passing
from bench.relay_scaling_point import ScalingPoint, WorkerShare, progress, renice

OURS = "passthrough"
GROUP = "server"
GENERATOR = "generator"


def scaling_point(point: Point, cap: float, throttled: float | None) -> ScalingPoint:
    """A relay bench point as the scaling bench's point (one worker: the server), so its
    full-rate rule and its verdict (at the cap, generator starved) apply unchanged."""
    share = WorkerShare(point.streams, point.streams, point.cpu_per_s, throttled)
    return ScalingPoint(
        workers=1,
        streams=point.streams,
        receiving=point.receiving,
        per_worker=[share],
        sent_fps=point.sent_fps,
        received_fps=point.fps_mean,
        worst_share=point.worst_share,
        generator_cpu_per_s=point.load_cpu_per_s,
        web_cpu_per_s=0.0,
        cap=cap,
    )


@dataclass
class Search:
    """One server's search: every point it measured, and what it found."""

    mode: str
    points: list[ScalingPoint] = field(default_factory=list)
    largest: int = 0

    @property
    def limited_by(self) -> str:
        """Why the smallest failing count failed (the verdict of that point)."""
        failed = [p for p in self.points if not p.full_rate and p.streams > self.largest]
        if not failed:
            return "not reached (search limit)"
        return min(failed, key=lambda p: p.streams).verdict.removeprefix("no: ")


def summarise(searches: dict[str, Search], cap: float) -> dict[str, Any]:
    """Per server: streams at full rate under ``cap``, streams per core, what stopped it;
    and ours / each other server."""
    summary: dict[str, Any] = {}
    for mode, search in searches.items():
        summary[mode] = {
            "streams_at_cap": search.largest,
            "streams_per_core": search.largest / cap,
            "limited_by": search.limited_by,
        }
    ours = summary.get(OURS, {}).get("streams_at_cap")
    for mode, row in summary.items():
        if mode != OURS:
            theirs = row["streams_at_cap"]
            row["ours_over_it"] = ours / theirs if ours and theirs else None
    return summary


def print_summary(summary: dict[str, Any], cap: float) -> None:
    print()
    print(f"capacity under a cap of {cap:g} core per server (full frame rate):")
    print(f"{'server':<12}{'streams':>8}{'per core':>10}{'ours/it':>9}  stopped by")
    for mode, row in summary.items():
        ratio = row.get("ours_over_it")
        print(
            f"{mode:<12}{row['streams_at_cap']:>8}{row['streams_per_core']:>10.0f}"
            f"{(f'{ratio:.2f}' if ratio else '-'):>9}  {row['limited_by']}"
        )
    print("(a search stopped by a starved generator measured the generator, not the server)")


@contextlib.asynccontextmanager
async def _server(mode: str, args: argparse.Namespace, pin: bool) -> Any:
    """``(target, pid)`` of a fresh server of ``mode``."""
    from bench.relay import relay_process  # here: bench.relay runs this module

    if mode == "janus":
        async with (
            janus.running_janus(args.janus_event_loops, pin) as server,
            janus.JanusTarget(server) as target,
        ):
            yield target, server.pid
    else:
        async with relay_process(mode, pin) as relay:
            yield relay, relay.pid


async def measure_capped(
    mode: str, streams: int, frames: list[bytes], args: argparse.Namespace, pin: bool
) -> ScalingPoint:
    """A fresh server of ``mode``, in a cgroup capped at ``args.cap`` once media flows."""
    async with _server(mode, args, pin) as (target, pid):
        caps = open_cpu_caps(args.cfs_period_us)
        try:
            # As in the scaling bench: on a shared machine --nice gives the server and this
            # process (the load generator) their CPU back from other jobs; groups of their
            # own take them out of the session's autogroup, where nice would not count.
            weight = nice_weight(args.nice)
            caps.weigh(caps.parent, 2 * weight)
            caps.add(GROUP, pid, weight)  # cgroup.procs: the process with all of its threads
            caps.add(GENERATOR, os.getpid(), weight, capped=False)
            renice(pid, args.nice)
            renice(os.getpid(), args.nice)
            before: list[Any] = []

            def cap_now() -> None:
                caps.limit(args.cap)
                before.append(caps.throttling(GROUP))
                progress(f"{mode}: {streams} streams, capped at {args.cap:g} core, warming up")

            point = await _drive(mode, target, streams, frames, args, cap_now)
            throttled = caps.throttling(GROUP).since(before[0]) if before else None
        finally:
            caps.close()
    return scaling_point(point, args.cap, throttled)


async def _drive(
    mode: str,
    target: Target,
    streams: int,
    frames: list[bytes],
    args: argparse.Namespace,
    on_wired: Callable[[], None],
) -> Point:
    return await drive(
        mode, target, streams, frames, args.warmup, args.window, progress, on_wired=on_wired
    )


def print_point(mode: str, point: ScalingPoint) -> None:
    share = point.per_worker[0]
    capped = f"{share.throttled * 100:.0f}%" if share.throttled is not None else "-"
    print(
        f"{mode:<12}{point.streams:>5}{share.cpu_per_s:>9.3f}{capped:>8}{point.sent_fps:>9.1f}"
        f"{point.delivered * 100:>8.1f}{point.worst_share * 100:>8.1f}"
        f"{point.generator_cpu_per_s:>9.2f}  {point.verdict}",
        flush=True,
    )


async def search_all(
    modes: list[str],
    measure: Callable[[str, int], Awaitable[ScalingPoint]],
    guess: int,
    limit: int,
) -> dict[str, Search]:
    """One :func:`largest_passing` search per server; a shared (first come, first served)
    lock makes their probes take turns."""
    turn = asyncio.Lock()
    searches = {mode: Search(mode) for mode in modes}

    async def run_search(search: Search) -> None:
        async def probe(streams: int) -> bool:
            async with turn:
                progress(f"{search.mode}: {streams} streams: starting")
                point = await measure(search.mode, streams)
            search.points.append(point)
            print_point(search.mode, point)
            return point.full_rate

        search.largest = await largest_passing(probe, guess, limit=limit)
        progress(f"=> {search.mode}: {search.largest} streams at full rate")

    await asyncio.gather(*(run_search(search) for search in searches.values()))
    return searches


def missing_reason() -> str | None:
    """Why no server can be capped here (None when cgroups are writable)."""
    try:
        caps = open_cpu_caps()
    except CgroupUnavailable as exc:
        return str(exc)
    caps.close()
    return None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    reason = missing_reason()
    if reason is not None:
        print(f"capacity under a cap skipped: cgroups are not writable here ({reason})")
        return {"skipped": reason}
    pin = (os.cpu_count() or 1) >= 2 and args.pin
    if pin:
        os.sched_setaffinity(0, {1})
    modes = [OURS]
    if "janus" in args.against:
        janus_reason = janus.missing_reason()
        if janus_reason is None:
            modes.append("janus")
        else:
            print(f"janus skipped: {janus_reason}")
    frames = encode_vp8_loop()
    print(
        f"capacity under a cap: {', '.join(modes)} each capped at {args.cap:g} core "
        f"(cgroup, period {args.cfs_period_us / 1000:g} ms); server on CPU0, load on CPU1: "
        f"{pin}; nice {args.nice}; warm-up {args.warmup}s, window {args.window}s"
    )
    print(
        f"{'server':<12}{'N':>5}{'cpu s/s':>9}{'capped':>8}{'sent fps':>9}{'recv %':>8}"
        f"{'worst %':>8}{'gen cpu':>9}  full rate"
    )

    async def measure(mode: str, streams: int) -> ScalingPoint:
        return await measure_capped(mode, streams, frames, args, pin)

    with loopback_only():
        searches = await search_all(modes, measure, args.cap_guess, args.cap_max_streams)
    summary = summarise(searches, args.cap)
    print_summary(summary, args.cap)
    return results(searches, summary, args.cap)


def results(searches: dict[str, Search], summary: dict[str, Any], cap: float) -> dict[str, Any]:
    """What ``--json`` writes: the cap, the summary and every probe."""
    return {
        "cap": cap,
        "summary": summary,
        "points": {mode: [asdict(p) for p in s.points] for mode, s in searches.items()},
    }


def positive_cores(text: str) -> float:
    """``--cap``: a share of a core above zero (more than one core is allowed)."""
    try:
        cores = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of cores: {text!r}") from None
    if not cores > 0:
        raise argparse.ArgumentTypeError(f"the cap must be above 0 cores, not {text}")
    return cores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cap",
        type=positive_cores,
        default=None,
        metavar="CORES",
        help="instead of the CPU-per-stream sweep, cap each server at CORES (e.g. 0.25) with "
        "a cgroup and search the most streams it carries at full frame rate",
    )
    parser.add_argument(
        "--cap-guess", type=int, default=32, help="first stream count the --cap search tries"
    )
    parser.add_argument(
        "--cap-max-streams", type=int, default=200, help="largest count the --cap search tries"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="with --cap: run the server and the load at this priority, weighed alike "
        "(e.g. -10 on a machine busy with other jobs)",
    )
    parser.add_argument(
        "--cfs-period-us", type=int, default=DEFAULT_PERIOD_US, help="the cap's CFS period"
    )
