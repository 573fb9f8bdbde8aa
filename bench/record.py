"""Recording benchmark: what recording a relayed stream costs next to forwarding it.

``python -m bench.record`` runs relayed sessions in this process: per session two aiortc peers
publish VP8 video (``--width`` x ``--height`` at 30 frames/s, encoded by the peers) and Opus
audio through a :class:`relay.manager.RelayManager`. Two windows of ``--window`` seconds, in
one run on the same calls:

1. forwarding only: the baseline;
2. forwarding and recording every session (four recorded streams per session).

Time spent in the relay's fast path per packet (``Publication.on_plain_rtp``, the taps
excluded) and in the recorder per packet (``FrameAssembler.push``: parse, depayload, frame
assembly and the container write) is measured with ``time.thread_time`` around the calls, so
the peers' own encoding does not count. Printed: core-seconds per second per stream for both,
their ratio (recording / forwarding), microseconds per packet, and the memory the recording
added (resident set growth over the recording window, per recorded stream). Figures on a
shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from bench.media import ColourVideoTrack, ToneAudioTrack, loopback_only, offer
from config.settings import RelaySettings
from relay.manager import RelayManager
from relay.publication import Publication
from relay.recording.frames import FrameAssembler
from relay.recording.writer import describe


@dataclass
class Meter:
    """CPU time (this thread) spent inside one function, and how many calls."""

    seconds: float = 0.0
    calls: int = 0

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls = 0


def _metered(function: Callable[..., Any], meter: Meter, minus: Meter | None = None) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inner_before = minus.seconds if minus is not None else 0.0
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - start
            if minus is not None:
                spent -= minus.seconds - inner_before  # the taps inside are the recorder's
            meter.seconds += spent
            meter.calls += 1

    return wrapper


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _peer(relay: RelayManager, session: str, name: str, args: argparse.Namespace) -> Any:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    colour = (200, 40, 40) if name == "a" else (40, 40, 200)
    pc.addTrack(ColourVideoTrack(colour, args.width, args.height))
    pc.addTrack(ToneAudioTrack(440 if name == "a" else 660))
    readers: list[asyncio.Task[None]] = []

    async def drain(track: MediaStreamTrack) -> None:
        while True:
            await track.recv()

    pc.on("track", lambda track: readers.append(asyncio.ensure_future(drain(track))))
    sdp, kind = await offer(pc)
    answer_sdp, answer_type = await relay.answer(session, name, sdp, kind)
    await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, answer_type))
    return pc, readers


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _window(seconds: float, label: str) -> None:
    step = max(1.0, seconds / 4)
    waited = 0.0
    while waited < seconds:
        await asyncio.sleep(min(step, seconds - waited))
        waited += step
        _progress(f"  {label}: {min(waited, seconds):.0f}/{seconds:.0f} s")


async def run(args: argparse.Namespace) -> dict[str, float]:
    forwarding, recording = Meter(), Meter()
    Publication.on_plain_rtp = _metered(  # type: ignore[method-assign]
        Publication.on_plain_rtp, forwarding, minus=recording
    )
    FrameAssembler.push = _metered(FrameAssembler.push, recording)  # type: ignore[method-assign]
    relay = RelayManager(RelaySettings(max_sessions=args.sessions + 1), [])
    folder = Path(tempfile.mkdtemp(prefix="bench-record-"))
    peers: list[Any] = []
    try:
        _progress(f"starting {args.sessions} relayed session(s)...")
        for index in range(args.sessions):
            for name in ("a", "b"):
                peers.append(await _peer(relay, f"s{index}", name, args))
        await asyncio.sleep(args.warmup)
        streams = args.sessions * 4  # two participants, audio and video each

        forwarding.reset()
        await _window(args.window, "forwarding only")
        base_fwd = forwarding.seconds / args.window / streams
        base_us = forwarding.seconds / max(1, forwarding.calls) * 1e6

        rss_before = _rss_mb()
        for index in range(args.sessions):
            await relay.start_recording(f"s{index}", str(folder / f"s{index}.webm"))
        forwarding.reset()
        recording.reset()
        await _window(args.window, "forwarding + recording")
        rss_after = _rss_mb()
        fwd = forwarding.seconds / args.window / streams
        rec = recording.seconds / args.window / streams
        rec_us = recording.seconds / max(1, recording.calls) * 1e6
        results = []
        for index in range(args.sessions):
            results.append(await relay.stop_recording(f"s{index}"))
        sizes = [describe(folder / f"s{index}.webm") for index in range(args.sessions)]
        figures = {
            "streams": float(streams),
            "forwarding_core_s_per_s_per_stream_baseline": base_fwd,
            "forwarding_core_s_per_s_per_stream": fwd,
            "recording_core_s_per_s_per_stream": rec,
            "recording_over_forwarding": rec / fwd if fwd else float("nan"),
            "forwarding_us_per_packet": base_us,
            "recording_us_per_packet": rec_us,
            "recording_rss_mb_per_stream": (rss_after - rss_before) / streams,
            "recorded_mb": sum(part.size_bytes for part in sizes) / 1e6,
        }
        assert all(result is not None and result.error is None for result in results)
        return figures
    finally:
        for pc, readers in peers:
            for task in readers:
                task.cancel()
            await pc.close()
        await relay.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.record", description=__doc__)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args(argv)
    with loopback_only():
        figures = asyncio.run(run(args))
    streams = int(figures["streams"])
    print(f"recorded streams: {streams} ({args.sessions} sessions, audio + video per side)")
    print(
        "forwarding, core-s/s per stream: "
        f"{figures['forwarding_core_s_per_s_per_stream_baseline']:.5f} alone, "
        f"{figures['forwarding_core_s_per_s_per_stream']:.5f} while recording "
        f"({figures['forwarding_us_per_packet']:.1f} us/packet)"
    )
    print(
        f"recording, core-s/s per stream: {figures['recording_core_s_per_s_per_stream']:.5f} "
        f"({figures['recording_us_per_packet']:.1f} us/packet)"
    )
    print(f"ratio recording / forwarding: {figures['recording_over_forwarding']:.2f}")
    print(
        f"memory added while recording: {figures['recording_rss_mb_per_stream']:.2f} MB per "
        f"stream; {figures['recorded_mb']:.1f} MB written"
    )


if __name__ == "__main__":
    main()
