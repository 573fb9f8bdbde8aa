"""What one load-test session costs the load tester, per media mode.

Wires ``--sessions`` direct sessions inside this process - two aiortc peers each, sending and
receiving exactly what ``panamia loadtest`` peers do (:mod:`loadtest.peer_media`) - over
loopback, and measures this process's CPU time (every thread) over a window, and the frame
rate each peer receives. First the ``synthetic`` mode (live encode and decode: the baseline),
then the ``replay`` mode (pre-encoded media, frames counted from RTP); it prints both and the
ratio, measured in the same run.

    python -m bench.loadtest_media [--sessions 6] [--window 10] [--video 160x120] [--fps 15]

On a busy machine the figures move with the neighbours' load; the ratio is the figure to
read. Never fails on figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection

from bench.media import loopback_only
from loadtest.peer_figures import MEDIA_MODES, MediaMode, MediaOptions
from loadtest.peer_media import Received, add_media, watch_remote_tracks

CONNECT_TIMEOUT_S = 60.0


@dataclass
class ModeFigures:
    mode: str
    sessions: int
    cpu_percent: float
    """This process's CPU over the window, 100 = one core."""
    fps_mean: float
    fps_min: float

    @property
    def cpu_per_session(self) -> float:
        return self.cpu_percent / self.sessions

    def row(self) -> str:
        return (
            f"{self.mode:<10} {self.sessions:>8} {self.cpu_percent:>8.1f} "
            f"{self.cpu_per_session:>12.2f} {self.fps_mean:>8.1f} {self.fps_min:>8.1f}"
        )


HEADER = f"{'media':<10} {'sessions':>8} {'CPU %':>8} {'CPU %/sess':>12} {'fps':>8} {'min fps':>8}"


def _video_frames(received: list[Received]) -> int:
    return sum(r.frames for r in received if r.kind == "video")


async def measure(mode: MediaMode, args: argparse.Namespace) -> ModeFigures:
    width, height = (int(v) for v in args.video.lower().split("x"))
    media = MediaOptions(width, height, args.fps, not args.no_audio, mode, args.audio_packet_ms)
    pcs: list[RTCPeerConnection] = []
    peers: list[tuple[list[Received], asyncio.Event]] = []

    async def wire() -> None:
        pair = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2)]
        for pc in pair:
            received: list[Received] = []
            first = asyncio.Event()
            add_media(pc, media)
            watch_remote_tracks(pc, media, received, first)
            pcs.append(pc)
            peers.append((received, first))
        offerer, answerer = pair
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await offerer.setRemoteDescription(answerer.localDescription)

    try:
        for index in range(args.sessions):
            await wire()
            print(f"  {mode}: session {index + 1}/{args.sessions} wired", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(first.wait() for _, first in peers)), CONNECT_TIMEOUT_S
            )
        print(f"  {mode}: media flowing; {args.warmup:g} s warm-up", flush=True)
        await asyncio.sleep(args.warmup)
        frames_before = [_video_frames(received) for received, _ in peers]
        cpu_before, started = time.process_time(), time.monotonic()
        print(f"  {mode}: measuring {args.window:g} s", flush=True)
        await asyncio.sleep(args.window)
        elapsed = time.monotonic() - started
        cpu = (time.process_time() - cpu_before) / elapsed * 100
        rates = [
            (_video_frames(received) - before) / elapsed
            for (received, _), before in zip(peers, frames_before, strict=True)
        ]
    finally:
        for pc in pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)
    return ModeFigures(mode, args.sessions, cpu, sum(rates) / len(rates), min(rates))


async def run(args: argparse.Namespace) -> None:
    baseline, candidate = "synthetic", "replay"
    assert {baseline, candidate} == set(MEDIA_MODES)
    results: list[ModeFigures] = []
    with loopback_only():
        for mode in (baseline, candidate):
            results.append(await measure(mode, args))  # type: ignore[arg-type]
            await asyncio.sleep(1)
    print()
    print(HEADER)
    for figures in results:
        print(figures.row())
    base, cand = results
    ratio = base.cpu_per_session / cand.cpu_per_session if cand.cpu_per_session else float("inf")
    print(
        f"\nload-tester CPU per direct session: {candidate} {cand.cpu_per_session:.2f} % vs "
        f"{baseline} {base.cpu_per_session:.2f} % of a core: {ratio:.1f}x cheaper"
    )
    if cand.cpu_per_session:
        print(
            f"sessions one core drives in {candidate} mode: about {100 / cand.cpu_per_session:.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest_media", description=__doc__)
    parser.add_argument("--sessions", type=int, default=6, help="direct sessions (2 peers each)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per mode")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--video", default="160x120", help="WxH, as the soak sends")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument(
        "--audio-packet-ms", type=int, choices=(20, 40, 60), default=20, help="replay mode only"
    )
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
