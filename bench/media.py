"""Synthetic media and peer helpers shared by the relay benchmark and the relay tests.

* :class:`ColourVideoTrack` - raw frames of one colour with a moving bar, encoded by
  aiortc's own sender like a camera would be.
* :class:`BrowserLikeVideoTrack` - VP8 encoded here, keyframes only at the start and when
  the receiver asks (PLI/FIR), as browsers do; returns ``av.Packet`` so aiortc only
  packetises it.
* :func:`encode_vp8_loop` + :class:`PacketLoopTrack` - a stream encoded once and replayed,
  so a load generator spends no CPU encoding (they live in :mod:`loadtest.replay`, which the
  load tester's ``replay`` media mode shares; re-exported here with the picture helpers).
* :func:`loopback_host_addresses` - aiortc never offers 127.0.0.1 as a host candidate;
  benchmarks and tests on one machine patch aioice's address discovery with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any

import av
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack

from loadtest.replay import (
    VIDEO_TIME_BASE,
    PacketLoopTrack,
    draw,
    encode_vp8,
    encode_vp8_loop,
    make_vp8_encoder,
)

__all__ = [
    "VIDEO_TIME_BASE",
    "BrowserLikeVideoTrack",
    "ColourVideoTrack",
    "PacketLoopTrack",
    "ToneAudioTrack",
    "describe_vp8_load",
    "draw",
    "encode_vp8",
    "encode_vp8_loop",
    "honour_keyframe_requests",
    "loopback_host_addresses",
    "loopback_only",
    "make_vp8_encoder",
    "mean_colour",
    "offer",
    "vp8_is_keyframe",
]


def loopback_host_addresses(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
    """Stand-in for ``aioice.ice.get_host_addresses``: loopback only."""
    return ["127.0.0.1"] if use_ipv4 else []


LOOPBACK_RELAY_WORKER = (
    sys.executable,
    "-c",
    "import aioice.ice; from bench.media import loopback_host_addresses; "
    "aioice.ice.get_host_addresses = loopback_host_addresses; "
    "from relay.worker import main; main()",
)
"""A relay worker command (``WorkerPool(command=...)``) that gathers 127.0.0.1 only, as the
bench's load generators do."""


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Make aioice gather 127.0.0.1 only, for the duration of the block."""
    import aioice.ice

    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = loopback_host_addresses
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class ColourVideoTrack(VideoStreamTrack):
    """Raw frames for aiortc to encode (its normal camera path)."""

    def __init__(self, colour: tuple[int, int, int], width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.colour = colour
        self.width = width
        self.height = height
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = draw(self.width, self.height, self.colour, self.frames)
        frame.pts = pts
        frame.time_base = time_base
        self.frames += 1
        return frame


def vp8_is_keyframe(data: bytes) -> bool:
    return bool(data) and not data[0] & 0x01


class BrowserLikeVideoTrack(MediaStreamTrack):
    """VP8 at 30 fps with keyframes only at the start and on request.

    Wire the request with :func:`honour_keyframe_requests` on the sender carrying it.
    """

    kind = "video"

    def __init__(self, colour: tuple[int, int, int], width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.colour = colour
        self.width = width
        self.height = height
        self._codec = make_vp8_encoder(width, height, 300_000)
        self._index = 0
        self._start: float | None = None
        self._keyframe_wanted = True
        self.keyframes = 0
        self.requests = 0

    def request_keyframe(self) -> None:
        self.requests += 1
        self._keyframe_wanted = True

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._index / 30 - time.monotonic()))
        keyframe = self._keyframe_wanted
        self._keyframe_wanted = False
        image = draw(self.width, self.height, self.colour, self._index)
        data = encode_vp8(self._codec, image, self._index, keyframe)
        if vp8_is_keyframe(data):
            self.keyframes += 1
        packet = av.Packet(data)
        packet.pts = self._index * 3000
        packet.time_base = VIDEO_TIME_BASE
        self._index += 1
        return packet


def honour_keyframe_requests(sender: Any, track: BrowserLikeVideoTrack) -> None:
    """aiortc's sender ignores PLI for pre-encoded packets; route it to ``track``."""
    sender._send_keyframe = track.request_keyframe


class ToneAudioTrack(MediaStreamTrack):
    """A 48 kHz sine tone in 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._samples / 48000 - time.monotonic()))
        step = 2 * math.pi * self.frequency / 48000
        samples = [int(math.sin((self._samples + i) * step) * 8000) for i in range(960)]
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(struct.pack("<960h", *samples))
        frame.sample_rate = 48000
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, 48000)
        self._samples += 960
        return frame


async def offer(pc: RTCPeerConnection) -> tuple[str, str]:
    """Create an offer and gather (aiortc gathers in setLocalDescription)."""
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp, pc.localDescription.type


def mean_colour(frame: av.VideoFrame) -> tuple[int, int, int]:
    """Mean RGB of the bottom rows (away from the noise block; the bar shifts it a little)."""
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    data = bytes(plane)
    stride = plane.line_size
    rows = [
        data[r * stride : r * stride + rgb.width * 3] for r in range(rgb.height - 8, rgb.height)
    ]
    pixels = b"".join(rows)
    count = len(pixels) // 3
    return (
        sum(pixels[0::3]) // count,
        sum(pixels[1::3]) // count,
        sum(pixels[2::3]) // count,
    )


def describe_vp8_load(frames: list[bytes], fps: int = 30) -> str:
    """The benches' one-line description of a looped 640x480 VP8 load and its bitrate."""
    kbits = sum(len(frame) for frame in frames) * 8 / (len(frames) / fps) / 1000
    return f"load: 640x480@{fps} VP8, {len(frames)} frames looped, {kbits:.0f} kbit/s per stream"
