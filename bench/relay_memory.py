"""Memory per forwarded stream at scale, ours against Janus: ``python -m bench.relay_memory``.

At the stream counts ``bench.relay`` reaches with 640x480@30 video on a small machine, a
megabyte of noise in a server's idle figure moves its memory per stream by a tenth. This
bench measures where memory per stream is what it is at scale: many streams of light video
(320x240 VP8 at 10 fps, about 300 kbit/s, the load of ``tests/integration/test_relay_memory.py``)
through a fresh server of each kind, one after the other, with the same load generator
(:mod:`bench.relay_load`). Printed per server: RSS idle and with the streams, RSS per stream
above idle, the received frame rate; then ours / Janus. Janus is skipped with the reason when
it is missing. Memory does not depend on pinning, so nothing is pinned.
"""

from __future__ import annotations

import argparse
import asyncio

from bench import janus
from bench.media import encode_vp8_loop, loopback_only
from bench.relay import relay_process
from bench.relay_load import Point, drive


def _note(text: str) -> None:
    print(f"  .. {text}", flush=True)


async def _measure(mode: str, streams: int, frames: list[bytes]) -> Point:
    if mode == "janus":
        async with janus.running_janus(1, False) as server, janus.JanusTarget(server) as target:
            return await drive(
                mode, target, streams, frames, 1.0, 3.0, _note, fps=10, connect_concurrency=10
            )
    async with relay_process(mode, pin=False) as relay:
        return await drive(
            mode, relay, streams, frames, 1.0, 3.0, _note, fps=10, connect_concurrency=10
        )


async def _run(streams: int) -> None:
    frames = encode_vp8_loop(width=320, height=240, frames=10, bitrate=300_000)
    missing = janus.missing_reason()
    modes = ["passthrough"] if missing else ["passthrough", "janus"]
    points: dict[str, Point] = {}
    with loopback_only():
        for mode in modes:
            points[mode] = await _measure(mode, streams, frames)
    print(f"\n{'server':<12}{'N':>5}{'idle MB':>9}{'rss MB':>8}{'MB/stream':>11}{'fps':>7}")
    for mode, point in points.items():
        print(
            f"{mode:<12}{point.streams:>5}{point.idle_rss_mb:>9.1f}{point.rss_mb:>8.1f}"
            f"{point.rss_per_stream:>11.3f}{point.fps_mean:>7.1f}"
        )
    if missing:
        print(f"janus skipped: {missing}")
        return
    ours, theirs = points["passthrough"], points["janus"]
    print(f"memory per stream, ours / janus: {ours.rss_per_stream / theirs.rss_per_stream:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_memory", description=__doc__)
    parser.add_argument("--streams", type=int, default=64)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.streams))


if __name__ == "__main__":
    main()
