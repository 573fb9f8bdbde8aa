"""The relay bench's load generator and figures, shared by every relay it measures.

Per stream one publisher sends a pre-encoded 640x480@30 VP8 stream (encoded once, replayed;
aiortc only packetises it) and one subscriber counts the frames it gets: the packets that end
a frame (marker bit), without reassembling or decoding. A :class:`Target` wires each pair to
the server under test and reports that server's own CPU time and memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCPeerConnection

from bench.media import PacketLoopTrack
from bench.procstat import own_cpu_seconds

FULL_RATE_FPS = 29.0
"""A stream counts as full frame rate at or above this mean over the window."""
CONNECT_CONCURRENCY = 4
"""Streams wired at once (each costs a DTLS handshake on both sides)."""


class Target(Protocol):
    """The server under test, as the load generator sees it."""

    async def stats(self) -> dict[str, float]:
        """``cpu`` (CPU seconds so far), ``rss_mb`` and ``hwm_mb`` of the server process."""
        ...

    async def connect(
        self, index: int, publisher: RTCPeerConnection, subscriber: RTCPeerConnection
    ) -> None:
        """Wire stream ``index``: ``publisher`` has its track; ``subscriber`` has nothing yet."""
        ...


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
    sent_fps: float = 30.0
    """Frames per second per stream the publishers sent in the window (below 30: the load
    generator starved)."""
    worst_share: float = 1.0
    """The lowest received / sent share of any stream in the window."""
    receiving: int = 0
    """Streams whose subscriber got any frame in the window."""

    @property
    def cpu_per_stream(self) -> float:
        return self.cpu_per_s / self.streams

    @property
    def rss_per_stream(self) -> float:
        return (self.rss_mb - self.idle_rss_mb) / self.streams

    @property
    def full_rate(self) -> bool:
        return self.fps_mean >= FULL_RATE_FPS and self.fps_min >= FULL_RATE_FPS - 1.5


def vp8_payload_type(sdp: str) -> int | None:
    """The payload type an SDP gives VP8."""
    match = re.search(r"a=rtpmap:(\d+) VP8/90000", sdp, re.IGNORECASE)
    return int(match.group(1)) if match else None


def _counter(
    counts: list[int], index: int, payload_type: int | None, all_receiving: asyncio.Event
) -> Callable[[Any, int], Awaitable[None]]:
    async def count(packet: Any, arrival_time_ms: int) -> None:
        # A frame's last packet carries the marker bit. Counting those keeps the load
        # generator cheap: it neither reassembles nor decodes. Retransmissions do not count.
        if packet.marker and (payload_type is None or packet.payload_type == payload_type):
            counts[index] += 1
            if counts[index] == 1 and min(counts) > 0:
                all_receiving.set()

    return count


async def drive(
    mode: str,
    target: Target,
    streams: int,
    frames: list[bytes],
    warmup: float,
    window: float,
    progress: Callable[[str], None] | None = None,
    fps: int = 30,
    connect_concurrency: int = CONNECT_CONCURRENCY,
    on_wired: Callable[[], None] | None = None,
) -> Point:
    """Wire ``streams`` publisher/subscriber pairs through ``target`` and measure a window.

    ``on_wired`` runs once media flows, before the warm-up (e.g. to cap the server's CPU
    only after the DTLS handshakes)."""
    idle = await target.stats()
    pcs: list[RTCPeerConnection] = []
    tracks: list[PacketLoopTrack | None] = [None] * streams
    counts = [0] * streams
    all_receiving = asyncio.Event()
    limit = asyncio.Semaphore(connect_concurrency)

    async def wire(index: int) -> None:
        publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = PacketLoopTrack(frames, fps)
        tracks[index] = track
        publisher.addTransceiver(track, direction="sendonly")
        subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.extend((publisher, subscriber))
        async with limit:
            await target.connect(index, publisher, subscriber)
        receiver = subscriber.getTransceivers()[0].receiver
        payload_type = vp8_payload_type(subscriber.remoteDescription.sdp)
        counter = _counter(counts, index, payload_type, all_receiving)
        receiver._handle_rtp_packet = counter  # type: ignore[method-assign,assignment]

    try:
        await asyncio.gather(*(wire(index) for index in range(streams)))
        if progress is not None:
            progress(f"{mode}: {streams} streams wired, waiting for media")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_receiving.wait(), 20 + streams / 5)
        if on_wired is not None:
            on_wired()
        await asyncio.sleep(warmup)
        before = await target.stats()
        counts_before = list(counts)
        sent_before = _frames_sent(tracks)
        load_before = own_cpu_seconds()
        started = time.monotonic()
        await asyncio.sleep(window)
        after = await target.stats()
        elapsed = time.monotonic() - started
        load_cpu = (own_cpu_seconds() - load_before) / elapsed
        rates = [(counts[i] - counts_before[i]) / elapsed for i in range(streams)]
        sent = [
            after_i - before_i
            for after_i, before_i in zip(_frames_sent(tracks), sent_before, strict=True)
        ]
        received = [counts[i] - counts_before[i] for i in range(streams)]
    finally:
        for pc in pcs:
            await pc.close()
    return Point(
        mode=mode,
        streams=streams,
        cpu_per_s=(after["cpu"] - before["cpu"]) / elapsed,
        rss_mb=after["rss_mb"],
        idle_rss_mb=idle["rss_mb"],
        hwm_mb=after["hwm_mb"],
        fps_mean=sum(rates) / len(rates),
        fps_min=min(rates),
        load_cpu_per_s=load_cpu,
        sent_fps=sum(sent) / elapsed / streams,
        worst_share=min(r / s if s else 0.0 for r, s in zip(received, sent, strict=True)),
        receiving=sum(1 for rate in rates if rate > 0),
    )


def _frames_sent(tracks: list[PacketLoopTrack | None]) -> list[int]:
    return [track.frames_sent if track is not None else 0 for track in tracks]


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


def memory_per_stream(points: list[Point]) -> float | None:
    """RSS above the idle process per stream, at the largest stream count measured."""
    if not points:
        return None
    return max(points, key=lambda point: point.streams).rss_per_stream
