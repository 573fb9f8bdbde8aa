"""Media encoded once and replayed: a load generator that spends no CPU encoding.

:func:`encode_vp8_loop` encodes a short clip (a flat colour, a moving bar and a block of
noise, keyframe first) and :class:`PacketLoopTrack` replays it as ``av.Packet`` objects with
timestamps rewritten from the frame index, so aiortc's sender only packetises. The same for
audio: :func:`encode_opus_loop` and :class:`OpusLoopTrack`. The load tester's ``replay`` media
mode and the relay benchmark (``bench.relay_load``, through ``bench.media``) both send these.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
import random
import struct
import time
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_RATE = 48_000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)


def _yuv(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    red, green, blue = colour
    y = 0.299 * red + 0.587 * green + 0.114 * blue
    return (
        int(16 + y * 219 / 255),
        int(128 + (blue - y) * 0.564 * 224 / 255),
        int(128 + (red - y) * 0.713 * 224 / 255),
    )


def draw(width: int, height: int, colour: tuple[int, int, int], index: int) -> av.VideoFrame:
    """A yuv420p picture: a flat colour, a moving white bar and a block of noise on top."""
    luma, cb, cr = _yuv(colour)
    x = (index * 8) % (width - 16)
    row = bytes([luma]) * x + b"\xeb" * 16 + bytes([luma]) * (width - x - 16)
    noise_rows = height // 4
    rng = random.Random(index)
    noisy = b"".join(rng.randbytes(width // 4) + row[width // 4 :] for _ in range(noise_rows))
    frame = av.VideoFrame(width, height, "yuv420p")
    y_plane, u_plane, v_plane = frame.planes
    if y_plane.line_size != width or u_plane.line_size != width // 2:
        raise RuntimeError("unexpected plane padding")
    y_plane.update(noisy + row * (height - noise_rows))
    chroma_row_u = bytes([cb]) * (width // 2)
    chroma_row_v = bytes([cr]) * (width // 2)
    u_plane.update(chroma_row_u * (height // 2))
    v_plane.update(chroma_row_v * (height // 2))
    return frame


def make_vp8_encoder(width: int, height: int, bitrate: int, fps: int = 30) -> Any:
    """A realtime libvpx encoder at a constant ``bitrate``, keyframes only when asked for."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    codec.gop_size = 100_000
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
    }
    return codec


def encode_vp8(codec: Any, frame: av.VideoFrame, index: int, keyframe: bool) -> bytes:
    frame.pts = index
    frame.time_base = codec.time_base
    if keyframe:
        frame.pict_type = av.video.frame.PictureType.I
    return b"".join(bytes(packet) for packet in codec.encode(frame))


@functools.lru_cache(maxsize=8)
def _encoded_loop(
    width: int, height: int, frames: int, bitrate: int, fps: int
) -> tuple[bytes, ...]:
    codec = make_vp8_encoder(width, height, bitrate, fps)
    out = []
    for index in range(frames):
        image = draw(width, height, (40 + index % 60, 90, 160), index)
        out.append(encode_vp8(codec, image, index, keyframe=index == 0))
    return tuple(out)


def encode_vp8_loop(
    width: int = 640, height: int = 480, frames: int = 150, bitrate: int = 1_000_000, fps: int = 30
) -> list[bytes]:
    """Encode ``frames`` once (keyframe first) to replay them in a loop; cached per process,
    so a hundred peers share one clip."""
    return list(_encoded_loop(width, height, frames, bitrate, fps))


def replay_bitrate(width: int, height: int, fps: int) -> int:
    """About what a browser spends on such a picture: 0.2 bit per pixel, 100 kb/s - 2.5 Mb/s."""
    return max(100_000, min(2_500_000, int(width * height * fps * 0.2)))


class PacketLoopTrack(MediaStreamTrack):
    """Replays pre-encoded VP8 frames at ``fps`` (the loop starts with a keyframe).

    Timestamps come from the frame index, so every lap continues the stream. When the event
    loop falls behind, the pace restarts from now instead of bursting the missed frames.
    """

    kind = "video"

    def __init__(self, frames: list[bytes], fps: int = 30) -> None:
        super().__init__()
        self._frames = frames
        self._fps = fps
        self._index = 0
        self._start: float | None = None
        self.frames_sent = 0

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._index / self._fps
        if now - due > 2 / self._fps:
            self._start = now - self._index / self._fps
            due = now
        if due > now:
            await asyncio.sleep(due - now)
        packet = av.Packet(self._frames[self._index % len(self._frames)])
        packet.pts = self._index * VIDEO_CLOCK // self._fps
        packet.time_base = VIDEO_TIME_BASE
        self._index += 1
        self.frames_sent += 1
        return packet


@functools.lru_cache(maxsize=4)
def _opus_loop(packets: int, packet_ms: int, tone_hz: float) -> tuple[bytes, ...]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 32_000
    codec.time_base = AUDIO_TIME_BASE
    codec.options = {"application": "voip", "frame_duration": str(packet_ms)}
    size = AUDIO_RATE * packet_ms // 1000
    step = 2 * math.pi * tone_hz / AUDIO_RATE
    out: list[bytes] = []
    index = 0
    while len(out) < packets:
        start = index * size
        mono = [int(3000 * math.sin((start + i) * step)) for i in range(size)]
        frame = av.AudioFrame(format="s16", layout="stereo", samples=size)
        frame.planes[0].update(struct.pack(f"<{2 * size}h", *(v for v in mono for _ in "lr")))
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = AUDIO_TIME_BASE
        out.extend(bytes(packet) for packet in codec.encode(frame))
        index += 1
    return tuple(out[:packets])


def encode_opus_loop(packets: int = 50, packet_ms: int = 20, tone_hz: float = 400.0) -> list[bytes]:
    """``packets`` Opus packets of ``packet_ms`` each (20, 40 or 60) of a tone whose period
    divides them (400 Hz: 2.5 ms), encoded once per process."""
    return list(_opus_loop(packets, packet_ms, tone_hz))


class OpusLoopTrack(MediaStreamTrack):
    """Replays pre-encoded Opus packets of ``packet_ms`` each, paced like
    :class:`PacketLoopTrack`."""

    kind = "audio"

    def __init__(self, packets: list[bytes], packet_ms: int = 20) -> None:
        super().__init__()
        self._packets = packets
        self._samples = AUDIO_RATE * packet_ms // 1000
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        period = self._samples / AUDIO_RATE
        due = self._start + self._index * period
        if now - due > max(0.1, 2 * period):
            self._start = now - self._index * period
            due = now
        if due > now:
            await asyncio.sleep(due - now)
        packet = av.Packet(self._packets[self._index % len(self._packets)])
        packet.pts = self._index * self._samples
        packet.time_base = AUDIO_TIME_BASE
        self._index += 1
        return packet
