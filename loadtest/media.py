"""Synthetic media to send and counters for the media we receive.

Frames are built from pre-computed plane bytes (a bar sweeping across a grey picture), so
sending costs a memory copy per frame plus the encoder, and the encoder still sees motion.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
import time
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms, what Opus frames carry
TONE_HZ = 400  # 120 samples a period: a 20 ms frame holds exactly 8 of them


def _video_planes(width: int, height: int, phases: int) -> list[list[bytes]]:
    """Y, U and V bytes (with each plane's line padding) for ``phases`` bar positions."""
    sample = av.VideoFrame(width, height, "yuv420p")
    layout = [(p.line_size, p.height, p.buffer_size) for p in sample.planes]
    bar = max(2, width // 8)
    frames: list[list[bytes]] = []
    for phase in range(phases):
        start = (phase * (width - bar)) // max(1, phases - 1)
        y_line = bytearray([96]) * layout[0][0]
        y_line[start : start + bar] = bytes([235]) * bar
        y = bytes(y_line) * layout[0][1]
        u = bytes([128 + (phase * 4) % 64]) * layout[1][2]
        v = bytes([128]) * layout[2][2]
        frames.append([y[: layout[0][2]], u, v])
    return frames


class SyntheticVideoTrack(MediaStreamTrack):
    """Video at WxH@fps, paced by the wall clock."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.fps = fps
        self._planes = _video_planes(width, height, max(2, fps))
        self._index = 0
        self._start: float | None = None
        self.frames_sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._index / self.fps
        if now - due > 2 / self.fps:  # fell behind (CPU starved): skip ahead, never burst
            self._start = now - self._index / self.fps
            due = now
        if due > now:
            await asyncio.sleep(due - now)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, data in zip(
            frame.planes, self._planes[self._index % len(self._planes)], strict=True
        ):
            plane.update(data)
        frame.pts = self._index * VIDEO_CLOCK // self.fps
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._index += 1
        self.frames_sent += 1
        return frame


def _tone_frame_bytes() -> bytes:
    amplitude = 3000
    samples = (
        int(amplitude * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE))
        for n in range(AUDIO_SAMPLES)
    )
    return struct.pack(f"<{AUDIO_SAMPLES}h", *samples)


class SyntheticAudioTrack(MediaStreamTrack):
    """A 400 Hz tone, 48 kHz mono, in 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._data = _tone_frame_bytes()
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._index * AUDIO_SAMPLES / AUDIO_RATE
        if now - due > 0.1:
            self._start = now - self._index * AUDIO_SAMPLES / AUDIO_RATE
            due = now
        if due > now:
            await asyncio.sleep(due - now)
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._data)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._index * AUDIO_SAMPLES
        frame.time_base = Fraction(1, AUDIO_RATE)
        self._index += 1
        return frame


class FrameTally:
    """What a peer reports of a received track: frames, when the first and the last came,
    and the size when known. ``first_frame`` is set at the first frame."""

    def __init__(self, kind: str, first_frame: asyncio.Event | None) -> None:
        self.kind = kind
        self.frames = 0
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.width = 0
        self.height = 0
        self._first_frame = first_frame

    def _frame_arrived(self) -> None:
        now = time.monotonic()
        if self.first_frame_at is None:
            self.first_frame_at = now
            if self._first_frame is not None:
                self._first_frame.set()
        self.last_frame_at = now
        self.frames += 1


class ReceivedTrack(FrameTally):
    """Drains one remote track (aiortc queues are unbounded, so an unread track piles up)
    and counts what arrives."""

    def __init__(self, track: MediaStreamTrack, first_frame: asyncio.Event | None) -> None:
        super().__init__(track.kind, first_frame)
        self.track = track
        self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            self._frame_arrived()
            if isinstance(frame, av.VideoFrame):
                self.width, self.height = frame.width, frame.height

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
