"""Relay benchmark: passthrough forwarding against aiortc's transcoding MediaRelay.

``python -m bench.relay`` runs, for each stream count, a fresh relay process (pinned to one
CPU when there are two) and, in this process, the load: per stream one publisher sending a
pre-encoded 640x480@30 VP8 stream of about 1 Mbit/s (encoded once, replayed; aiortc only
packetises it) and one subscriber counting the frames it gets (the packets that end a frame,
without reassembling or decoding). The relay
reports its own CPU time (``/proc/self/stat``) and memory (``/proc/self/status``).

Printed per point: relay CPU-seconds per second per stream, RSS per stream above the idle
process, received frame rate; then streams per core at full frame rate for both relays and
their ratio: 1 / the CPU per stream at the largest stream count that held full frame rate,
and 1 / the slope of a line fitted through the full-rate points (the cost of one more
stream). Figures on a shared 2-core machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from bench.media import PacketLoopTrack, encode_vp8_loop, loopback_only, offer
from bench.ports import free_port
from config.settings import RelaySettings
from relay.manager import RelayManager

RTX_PAYLOAD_TYPE = 98
"""aiortc's default payload type for VP8's retransmissions (the relay never sends RTX
here: loopback loses nothing)."""
FULL_RATE_FPS = 29.0
"""A stream counts as full frame rate at or above this mean over the window."""


def _proc_cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _proc_memory_mb() -> tuple[float, float]:
    values: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


# --- the relay process ---------------------------------------------------------------


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


async def serve(mode: str, port: int) -> None:
    with loopback_only():
        relay: Any
        if mode == "passthrough":
            relay = RelayManager(RelaySettings(max_sessions=10_000), [])
        else:
            relay = TranscodingRelay()

        async def handle_offer(request: web.Request) -> web.Response:
            body = await request.json()
            sdp, kind = await relay.answer(
                body["session"], body["participant"], body["sdp"], body["type"]
            )
            return web.json_response({"sdp": sdp, "type": kind})

        async def handle_stats(request: web.Request) -> web.Response:
            rss, hwm = _proc_memory_mb()
            return web.json_response({"cpu": _proc_cpu_seconds(), "rss_mb": rss, "hwm_mb": hwm})

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


# --- the load generator ----------------------------------------------------------------


@dataclass
class Point:
    mode: str
    streams: int
    cpu_per_s: float
    rss_mb: float
    idle_rss_mb: float
    hwm_mb: float
    fps_mean: float
    fps_min: float
    load_cpu_per_s: float

    @property
    def cpu_per_stream(self) -> float:
        return self.cpu_per_s / self.streams

    @property
    def rss_per_stream(self) -> float:
        return (self.rss_mb - self.idle_rss_mb) / self.streams

    @property
    def full_rate(self) -> bool:
        return self.fps_mean >= FULL_RATE_FPS and self.fps_min >= FULL_RATE_FPS - 1.5


async def _connect(
    http: ClientSession, url: str, session: str, participant: str, pc: RTCPeerConnection
) -> None:
    sdp, kind = await offer(pc)
    body = {"session": session, "participant": participant, "sdp": sdp, "type": kind}
    async with http.post(f"{url}/offer", json=body) as response:
        answer = await response.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))


async def measure(
    mode: str, streams: int, frames: list[bytes], warmup: float, window: float, pin: bool
) -> Point:
    port = free_port()
    args = ["-m", "bench.relay", "serve", "--mode", mode, "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    if pin:
        os.sched_setaffinity(proc.pid, {0})
    line = await proc.stdout.readline()
    if b"ready" not in line:
        raise RuntimeError(f"the relay did not start ({mode})")
    url = f"http://127.0.0.1:{port}"
    pcs: list[RTCPeerConnection] = []
    counts = [0] * streams
    all_receiving = asyncio.Event()
    try:
        async with ClientSession() as http:
            async with http.get(f"{url}/stats") as response:
                idle = await response.json()
            for index in range(streams):
                publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                publisher.addTransceiver(PacketLoopTrack(frames), direction="sendonly")
                subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                receiver = subscriber.addTransceiver("video", direction="recvonly").receiver

                async def count(packet: Any, arrival_time_ms: int, index: int = index) -> None:
                    # A frame's last packet carries the marker bit. Counting those keeps the
                    # load generator cheap: it neither reassembles nor decodes.
                    if packet.marker and packet.payload_type != RTX_PAYLOAD_TYPE:
                        counts[index] += 1
                        if counts[index] == 1 and min(counts) > 0:
                            all_receiving.set()

                receiver._handle_rtp_packet = count  # type: ignore[method-assign]
                pcs += [publisher, subscriber]
                await _connect(http, url, f"s{index}", "pub", publisher)
                await _connect(http, url, f"s{index}", "sub", subscriber)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_receiving.wait(), 20)
            await asyncio.sleep(warmup)
            async with http.get(f"{url}/stats") as response:
                before = await response.json()
            counts_before = list(counts)
            load_before = _self_cpu()
            started = time.monotonic()
            await asyncio.sleep(window)
            async with http.get(f"{url}/stats") as response:
                after = await response.json()
            elapsed = time.monotonic() - started
            load_cpu = (_self_cpu() - load_before) / elapsed
            fps = [(counts[i] - counts_before[i]) / elapsed for i in range(streams)]
    finally:
        for pc in pcs:
            await pc.close()
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return Point(
        mode=mode,
        streams=streams,
        cpu_per_s=(after["cpu"] - before["cpu"]) / elapsed,
        rss_mb=after["rss_mb"],
        idle_rss_mb=idle["rss_mb"],
        hwm_mb=after["hwm_mb"],
        fps_mean=sum(fps) / len(fps),
        fps_min=min(fps),
        load_cpu_per_s=load_cpu,
    )


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def streams_per_core(points: list[Point]) -> tuple[float, Point | None]:
    """1 / CPU per stream at the largest stream count that held full frame rate."""
    full = [point for point in points if point.full_rate]
    if not full:
        return 0.0, None
    best = max(full, key=lambda point: point.streams)
    return 1.0 / best.cpu_per_stream if best.cpu_per_stream > 0 else float("inf"), best


def marginal_streams_per_core(points: list[Point]) -> float | None:
    """1 / the least-squares slope of CPU against streams over the full-rate points.

    The slope is what one more stream costs, without the idle process's own timers; it
    needs two or more full-rate points.
    """
    full = [point for point in points if point.full_rate]
    if len({point.streams for point in full}) < 2:
        return None
    mean_n = sum(point.streams for point in full) / len(full)
    mean_cpu = sum(point.cpu_per_s for point in full) / len(full)
    spread = sum((point.streams - mean_n) ** 2 for point in full)
    slope = sum((point.streams - mean_n) * (point.cpu_per_s - mean_cpu) for point in full)
    slope /= spread
    return 1.0 / slope if slope > 0 else None


def _print_point(point: Point) -> None:
    print(
        f"{point.mode:<12}{point.streams:>5}{point.cpu_per_s:>10.3f}{point.cpu_per_stream:>12.4f}"
        f"{point.rss_mb:>9.0f}{point.rss_per_stream:>10.2f}{point.fps_mean:>8.1f}"
        f"{point.fps_min:>8.1f}{point.load_cpu_per_s:>9.2f}  {'yes' if point.full_rate else 'no'}",
        flush=True,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    pin = (os.cpu_count() or 1) >= 2 and args.pin
    if pin:
        os.sched_setaffinity(0, {1})
    frames = encode_vp8_loop()
    kbits = sum(len(frame) for frame in frames) * 8 / (len(frames) / 30) / 1000
    print(f"load: 640x480@30 VP8, {len(frames)} frames looped, {kbits:.0f} kbit/s per stream")
    print(f"relay pinned to CPU0, load to CPU1: {pin}; window {args.window}s")
    print(
        f"{'relay':<12}{'N':>5}{'cpu s/s':>10}{'cpu/stream':>12}{'rss MB':>9}"
        f"{'MB/stream':>10}{'fps':>8}{'minfps':>8}{'load cpu':>9}  full rate"
    )
    results: dict[str, list[Point]] = {"passthrough": [], "transcode": []}
    with loopback_only():
        for mode, counts in (("passthrough", args.streams), ("transcode", args.transcode_streams)):
            for streams in counts:
                point = await measure(mode, streams, frames, args.warmup, args.window, pin)
                results[mode].append(point)
                _print_point(point)
                if mode == "transcode" and not point.full_rate:
                    break  # beyond this it only gets worse (and memory grows without bound)
    passthrough, p_best = streams_per_core(results["passthrough"])
    transcode, t_best = streams_per_core(results["transcode"])
    print()
    for name, value, best in (
        ("passthrough", passthrough, p_best),
        ("transcode", transcode, t_best),
    ):
        where = f"(at N={best.streams})" if best else "(no point held full frame rate)"
        print(f"{name:<12} streams per core at full frame rate: {value:7.1f} {where}")
    ratio = passthrough / transcode if transcode else float("nan")
    print(f"ratio passthrough / transcode: {ratio:.1f}x")
    marginal = {mode: marginal_streams_per_core(points) for mode, points in results.items()}
    for name, slope_value in marginal.items():
        shown = (
            f"{slope_value:7.1f}"
            if slope_value is not None
            else "    n/a (fewer than 2 full-rate points)"
        )
        print(f"{name:<12} streams per core from the CPU slope: {shown}")
    if marginal["passthrough"] and marginal["transcode"]:
        print(f"ratio from the slopes: {marginal['passthrough'] / marginal['transcode']:.1f}x")
    print("(2 shared cores: figures are noisy; the load generator shares the machine)")
    return {
        "points": [point.__dict__ for mode in results.values() for point in mode],
        "streams_per_core": {"passthrough": passthrough, "transcode": transcode},
        "ratio": ratio,
        "streams_per_core_from_slope": marginal,
    }


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="run the relay process (used by the benchmark)")
    serve_parser.add_argument("--mode", choices=("passthrough", "transcode"), required=True)
    serve_parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--streams", type=_counts, default=[1, 4, 8, 16, 32])
    parser.add_argument("--transcode-streams", type=_counts, default=[1, 4, 8])
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the relay to CPU0 and the load to CPU1 (only on an otherwise idle machine)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.command == "serve":
        profile = os.environ.get("BENCH_RELAY_PROFILE")
        if profile:  # e.g. BENCH_RELAY_PROFILE=/tmp/relay.prof: where the relay's time goes
            import cProfile

            cProfile.runctx(
                "asyncio.run(serve(args.mode, args.port))", globals(), locals(), profile
            )
            return
        asyncio.run(serve(args.mode, args.port))
        return
    results = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    with contextlib.suppress(Exception):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
