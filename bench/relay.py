"""Relay benchmark: our passthrough relay against Janus's VideoRoom and aiortc's MediaRelay.

``python -m bench.relay`` runs, for each stream count, a fresh server process (pinned to
CPU0 with ``--pin``, the load generator to CPU1) and drives it with the same load
(:mod:`bench.relay_load`): per stream one publisher sending a pre-encoded 640x480@30 VP8
stream of about 1 Mbit/s and one subscriber counting the frames it gets. The servers:

* ``passthrough`` - ours (:class:`relay.manager.RelayManager`), in ``bench.relay serve``;
* ``janus`` - Janus 1.1.2's VideoRoom with ``--against janus`` (:mod:`bench.janus`), skipped
  with a message when the package is missing;
* ``transcode`` - aiortc's MediaRelay (decode once, re-encode per subscriber);
* ``ours-asyncio`` - ours again, on asyncio's own event loop instead of uvloop, with
  ``--against asyncio`` (what ``relay.event_loop`` buys);
* ``ours-nogso`` - ours again, one system call per packet, with ``--against nogso`` (what
  ``relay.udp_gso`` buys).

Each server's CPU time and memory come from /proc. Printed per point: CPU-seconds per second
per stream, RSS per stream above the idle process, received frame rate; then for each server
streams per core at full frame rate (1 / the CPU per stream at the largest stream count that
held full frame rate, and 1 / the slope through the full-rate points), memory per stream,
idle RSS, and ours / each baseline. Figures on a shared machine are noisy: compare within one
run.

``--cap CORES`` measures capacity at saturation instead (:mod:`bench.relay_capped`): ours and
Janus each capped at CORES by a cgroup, the most streams each carries at full frame rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from bench import janus, relay_capped
from bench.media import describe_vp8_load, encode_vp8_loop, loopback_only, offer
from bench.ports import free_port
from bench.procstat import pin_process, process_cpu_seconds, process_memory_mb
from bench.relay_load import (
    Point,
    drive,
    marginal_streams_per_core,
    memory_per_stream,
    streams_per_core,
)
from config.settings import RelaySettings
from relay import eventloop, udpbatch
from relay.manager import RelayManager

# --- the relay process ---------------------------------------------------------------

OURS_VARIANTS = {
    "passthrough": [],
    "ours-asyncio": ["--event-loop", "asyncio"],
    "ours-nogso": ["--no-udp-gso"],
}
"""Our relay as configured by default, and with one setting changed (``serve`` arguments)."""
OURS = tuple(OURS_VARIANTS)
BASELINE_MODES = {"asyncio": "ours-asyncio", "nogso": "ours-nogso"}
"""``--against`` names of the variants of ours."""


class TranscodingRelay:
    """The baseline: aiortc decodes what it receives; MediaRelay fans the decoded frames out
    and every subscriber's sender re-encodes them."""

    def __init__(self) -> None:
        self._relay = MediaRelay()
        self._tracks: dict[str, MediaStreamTrack] = {}
        self._pcs: list[RTCPeerConnection] = []

    async def answer(self, session: str, participant: str, sdp: str, kind: str) -> tuple[str, str]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tracks[session] = track

        await pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
        published = self._tracks.get(session)
        if participant == "sub" and published is not None:
            pc.addTrack(self._relay.subscribe(published))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp, pc.localDescription.type

    async def close(self) -> None:
        for pc in self._pcs:
            await pc.close()


async def serve(
    mode: str, port: int, udp_gso: bool = True, rtcp_report_every: int | None = None
) -> None:
    with loopback_only():
        relay: Any
        if mode in OURS:
            settings = RelaySettings(max_sessions=10_000, udp_gso=udp_gso)
            if rtcp_report_every is not None:
                settings = dataclasses.replace(settings, rtcp_report_every=rtcp_report_every)
            relay = RelayManager(settings, [])
        else:
            relay = TranscodingRelay()

        async def handle_offer(request: web.Request) -> web.Response:
            body = await request.json()
            sdp, kind = await relay.answer(
                body["session"], body["participant"], body["sdp"], body["type"]
            )
            return web.json_response({"sdp": sdp, "type": kind})

        async def handle_stats(request: web.Request) -> web.Response:
            rss, hwm = process_memory_mb()
            stats: dict[str, Any] = {"cpu": process_cpu_seconds(), "rss_mb": rss, "hwm_mb": hwm}
            stats["event_loop"] = eventloop.running_loop_name()
            stats["packets_batched"] = udpbatch.packets_batched()
            if isinstance(relay, RelayManager):  # the relay's own counters, for a closer look
                stats["relay"] = relay.stats()
            return web.json_response(stats)

        app = web.Application()
        app.router.add_post("/offer", handle_offer)
        app.router.add_get("/stats", handle_stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes stdin to stop us
        await stop.wait()
        loop.remove_reader(sys.stdin.fileno())
        await relay.close()
        await runner.cleanup()


class RelayProcess:
    """``bench.relay serve`` in a subprocess, as a :class:`bench.relay_load.Target`."""

    def __init__(self, http: ClientSession, url: str, pid: int = 0) -> None:
        self._http = http
        self._url = url
        self.pid = pid

    async def stats(self) -> dict[str, float]:
        async with self._http.get(f"{self._url}/stats") as response:
            stats: dict[str, float] = await response.json()
        return stats

    async def _offer(self, session: str, participant: str, pc: RTCPeerConnection) -> None:
        sdp, kind = await offer(pc)
        body = {"session": session, "participant": participant, "sdp": sdp, "type": kind}
        async with self._http.post(f"{self._url}/offer", json=body) as response:
            answer = await response.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def connect(
        self, index: int, publisher: RTCPeerConnection, subscriber: RTCPeerConnection
    ) -> None:
        subscriber.addTransceiver("video", direction="recvonly")
        await self._offer(f"s{index}", "pub", publisher)
        await self._offer(f"s{index}", "sub", subscriber)


async def stop_serve(proc: asyncio.subprocess.Process) -> None:
    """End a ``bench.relay serve`` process: closing its stdin tells it to stop; kill it if it
    has not within 15 s."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def relay_process(mode: str, pin: bool) -> AsyncIterator[RelayProcess]:
    port = free_port()
    args = ["-m", "bench.relay", "serve", "--mode", mode, "--port", str(port)]
    args += OURS_VARIANTS.get(mode, [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        line = await proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError(f"the relay did not start ({mode})")
        if pin:
            pin_process(proc.pid, 0)
        async with ClientSession() as http:
            yield RelayProcess(http, f"http://127.0.0.1:{port}", proc.pid)
    finally:
        await stop_serve(proc)


async def measure(
    mode: str, streams: int, frames: list[bytes], args: argparse.Namespace, pin: bool
) -> Point:
    """One point: a fresh server of ``mode`` carrying ``streams`` streams."""
    if mode == "janus":
        async with (
            janus.running_janus(args.janus_event_loops, pin) as server,
            janus.JanusTarget(server) as target,
        ):
            return await drive(mode, target, streams, frames, args.warmup, args.window, _note)
    async with relay_process(mode, pin) as relay:
        return await drive(mode, relay, streams, frames, args.warmup, args.window, _note)


def _note(text: str) -> None:
    print(f"  .. {text}", flush=True)


def _print_point(point: Point) -> None:
    print(
        f"{point.mode:<12}{point.streams:>5}{point.cpu_per_s:>10.3f}{point.cpu_per_stream:>12.4f}"
        f"{point.rss_mb:>9.0f}{point.rss_per_stream:>10.2f}{point.fps_mean:>8.1f}"
        f"{point.fps_min:>8.1f}{point.load_cpu_per_s:>9.2f}  {'yes' if point.full_rate else 'no'}",
        flush=True,
    )


def _ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "n/a"
    return f"{ours / theirs:.2f}"


def print_summary(results: dict[str, list[Point]]) -> dict[str, Any]:
    """The three-way table: each server's figures and ours / it."""
    summary: dict[str, Any] = {}
    for mode, points in results.items():
        capacity, best = streams_per_core(points)
        summary[mode] = {
            "streams_per_core": capacity,
            "at_streams": best.streams if best else None,
            "cpu_per_stream": best.cpu_per_stream if best else None,
            "streams_per_core_from_slope": marginal_streams_per_core(points),
            "mb_per_stream": memory_per_stream(points),
            "idle_rss_mb": min((p.idle_rss_mb for p in points), default=None),
        }
    print()
    print(
        f"{'server':<12}{'streams/core':>13}{'(at N)':>8}{'slope s/c':>10}{'cpu/stream':>11}"
        f"{'MB/stream':>10}{'idle MB':>9}{'ours/it cpu':>12}{'ours/it MB':>11}"
    )
    ours = summary.get("passthrough", {})
    for mode, row in summary.items():
        slope = row["streams_per_core_from_slope"]
        print(
            f"{mode:<12}{row['streams_per_core']:>13.1f}{row['at_streams'] or '-':>8}"
            f"{(f'{slope:.1f}' if slope else 'n/a'):>10}"
            f"{(row['cpu_per_stream'] or 0):>11.4f}{(row['mb_per_stream'] or 0):>10.2f}"
            f"{(row['idle_rss_mb'] or 0):>9.0f}"
            f"{_ratio(ours.get('cpu_per_stream'), row['cpu_per_stream']):>12}"
            f"{_ratio(ours.get('mb_per_stream'), row['mb_per_stream']):>11}"
        )
    for baseline in ("janus", *BASELINE_MODES.values()):
        if not results.get(baseline) or not results["passthrough"]:
            continue
        print()
        print(f"per stream count, ours / {baseline}:".ljust(32) + "  N   cpu/stream   MB/stream")
        theirs = {point.streams: point for point in results[baseline]}
        for point in results["passthrough"]:
            other = theirs.get(point.streams)
            if other is None:
                continue
            print(
                f"{'':<32}{point.streams:>3}"
                f"{_ratio(point.cpu_per_stream, other.cpu_per_stream):>13}"
                f"{_ratio(point.rss_per_stream, other.rss_per_stream):>12}"
            )
    for mode in ("janus", *BASELINE_MODES.values(), "transcode"):
        if mode in summary and ours:
            theirs_capacity = summary[mode]["streams_per_core"]
            print(
                f"streams per core, ours / {mode}: "
                f"{_ratio(ours['streams_per_core'], theirs_capacity)}"
            )
    print("(CPU ratio below 1 and streams-per-core ratio above 1 mean ours is cheaper)")
    return summary


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pin = (os.cpu_count() or 1) >= 2 and args.pin
    if pin:
        os.sched_setaffinity(0, {1})
    frames = encode_vp8_loop()
    print(describe_vp8_load(frames))
    print(f"server pinned to CPU0, load to CPU1: {pin}; window {args.window}s")
    modes = ["passthrough"]
    if "janus" in args.against:
        reason = janus.missing_reason()
        if reason is None:
            modes.append("janus")
            print(f"janus: event_loops = {args.janus_event_loops} (one shared loop thread)")
        else:
            print(f"janus skipped: {reason}")
    modes += [mode for name, mode in BASELINE_MODES.items() if name in args.against]
    if "transcode" in args.against:
        modes.append("transcode")
    print(
        f"{'server':<12}{'N':>5}{'cpu s/s':>10}{'cpu/stream':>12}{'rss MB':>9}"
        f"{'MB/stream':>10}{'fps':>8}{'minfps':>8}{'load cpu':>9}  full rate"
    )
    results: dict[str, list[Point]] = {mode: [] for mode in modes}
    with loopback_only():
        for streams in sorted(set(args.streams) | set(args.transcode_streams)):
            for mode in modes:  # interleaved, so every server sees the same machine
                counts = args.transcode_streams if mode == "transcode" else args.streams
                if streams not in counts:
                    continue
                if results[mode] and not results[mode][-1].full_rate and mode == "transcode":
                    continue  # beyond this it only gets worse (and memory grows without bound)
                point = await measure(mode, streams, frames, args, pin)
                results[mode].append(point)
                _print_point(point)
    summary = print_summary(results)
    print("(2 shared cores: figures are noisy; the load generator shares the machine)")
    return {
        "points": [point.__dict__ for points in results.values() for point in points],
        "summary": summary,
    }


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _against(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(chosen) - {"janus", "transcode", *BASELINE_MODES}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown baseline(s): {', '.join(sorted(unknown))}")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="run the relay process (used by the benchmark)")
    serve_parser.add_argument("--mode", choices=(*OURS, "transcode"), required=True)
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument(
        "--event-loop", choices=("uvloop", "asyncio"), default=RelaySettings().event_loop
    )
    serve_parser.add_argument(
        "--no-udp-gso", dest="udp_gso", action="store_false", help="relay.udp_gso = false"
    )
    serve_parser.add_argument(
        "--rtcp-report-every", type=int, help="relay.rtcp_report_every (default: the setting's)"
    )
    parser.add_argument("--streams", type=_counts, default=[1, 4, 8, 16, 32])
    parser.add_argument("--transcode-streams", type=_counts, default=[1, 4, 8])
    parser.add_argument(
        "--against",
        type=_against,
        default=["transcode"],
        help="baselines, comma-separated: transcode (aiortc MediaRelay, always added), janus, "
        "asyncio (ours on asyncio's own event loop instead of uvloop), nogso (ours sending "
        "one packet per system call)",
    )
    parser.add_argument(
        "--janus-event-loops",
        type=int,
        default=1,
        help="Janus event_loops: handles share this many loop threads (default 1, a match "
        "for our single asyncio loop on the pinned core)",
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU0 and the load to CPU1 (only on an otherwise idle machine)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    relay_capped.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.command == "serve":
        profile = os.environ.get("BENCH_RELAY_PROFILE")
        if profile:  # e.g. BENCH_RELAY_PROFILE=/tmp/{mode}.prof: where the relay's time goes
            import cProfile

            profile = profile.replace("{mode}", args.mode)

            cProfile.runctx(
                "eventloop.run(serve(args.mode, args.port, args.udp_gso, args.rtcp_report_every), "
                "args.event_loop)",
                globals(),
                locals(),
                profile,
            )
            return
        eventloop.run(
            serve(args.mode, args.port, args.udp_gso, args.rtcp_report_every), args.event_loop
        )
        return
    if args.cap is not None:  # capacity under a CPU cap instead of the sweep
        results = asyncio.run(relay_capped.run(args))
    else:
        if "transcode" not in args.against:
            args.against = [*args.against, "transcode"]
        results = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    with contextlib.suppress(Exception):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
