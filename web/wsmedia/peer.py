"""One participant's media socket: what it may send, and a bounded queue of what it receives.

Audio and video wait in separate queues and the pump always empties the audio queue first,
so speech never waits behind a large key frame. When the video queue is full the receiver is
falling behind: its queued video is dropped, further delta frames are skipped until the next
key frame, and the sender is asked for a key frame and to send less (``slow-down``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from web.wsmedia.protocol import CLOSE_TOO_FAST, Chunk, FrameError, Kind

log = structlog.get_logger(__name__)

VIDEO_QUEUE_FRAMES = 10
"""Half a second of video at 20 frames per second: more would only be shown late."""
VIDEO_QUEUE_BYTES = 512 * 1024
AUDIO_QUEUE_FRAMES = 25
"""Half a second of 20 ms Opus packets; older audio is dropped rather than played late."""


@dataclass(frozen=True)
class RateLimits:
    frames_per_s: float = 200.0
    """Binary frames per second (30 video + 50 audio is the normal)."""
    bytes_per_s: float = 1_500_000.0
    """About 12 Mbit/s, ten times a 640x480 call."""
    controls_per_s: float = 20.0


class Bucket:
    """A token bucket: ``take`` is False once more than ``rate`` a second (burst ``rate``)
    have been taken."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self, amount: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


@dataclass
class PeerStats:
    forwarded: int = 0
    dropped_video: int = 0
    dropped_audio: int = 0
    congested: int = 0


class MediaPeer:
    """One accepted media socket of one participant."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        email: str,
        *,
        limits: RateLimits | None = None,
        on_congested: Callable[[MediaPeer], None] | None = None,
    ) -> None:
        self.ws = ws
        self.email = email
        limits = limits or RateLimits()
        self._frames = Bucket(limits.frames_per_s)
        self._bytes = Bucket(limits.bytes_per_s)
        self._controls = Bucket(limits.controls_per_s)
        self._audio: collections.deque[bytes] = collections.deque(maxlen=AUDIO_QUEUE_FRAMES)
        self._video: collections.deque[bytes] = collections.deque()
        self._video_bytes = 0
        self._texts: collections.deque[str] = collections.deque(maxlen=32)
        self._wake = asyncio.Event()
        self._skip_to_keyframe = True
        """A receiver starts at a key frame: deltas before one cannot be decoded."""
        self._on_congested = on_congested
        self.stats = PeerStats()
        self._pump = asyncio.create_task(self._run(), name=f"wsmedia-pump-{email}")

    # --- what this socket sends ---------------------------------------------------------------

    def admit_chunk(self, chunk: Chunk) -> None:
        """Count a received chunk against the socket's rate; raise when it is over."""
        if not self._frames.take() or not self._bytes.take(chunk.size):
            raise FrameError(CLOSE_TOO_FAST, "too many media chunks")

    def admit_control(self) -> None:
        if not self._controls.take():
            raise FrameError(CLOSE_TOO_FAST, "too many control messages")

    # --- what this socket receives ------------------------------------------------------------

    def deliver_chunk(self, kind: Kind, frame: bytes) -> None:
        """Queue a chunk from the other participant (never blocks; drops when behind)."""
        if kind is Kind.AUDIO:
            if len(self._audio) == self._audio.maxlen:
                self.stats.dropped_audio += 1
            self._audio.append(frame)
        elif kind is Kind.VIDEO_KEY:
            self._drop_video()
            self._skip_to_keyframe = False
            self._push_video(frame)
        elif self._skip_to_keyframe:
            self.stats.dropped_video += 1
            return
        elif len(self._video) >= VIDEO_QUEUE_FRAMES or self._video_bytes >= VIDEO_QUEUE_BYTES:
            self._drop_video()
            self._skip_to_keyframe = True
            self.stats.dropped_video += 1
            self.stats.congested += 1
            if self._on_congested is not None:
                self._on_congested(self)
            return
        else:
            self._push_video(frame)
        self._wake.set()

    def deliver_text(self, text: str) -> None:
        self._texts.append(text)
        self._wake.set()

    def wants_keyframe(self) -> bool:
        return self._skip_to_keyframe

    def _push_video(self, frame: bytes) -> None:
        self._video.append(frame)
        self._video_bytes += len(frame)

    def _drop_video(self) -> None:
        self.stats.dropped_video += len(self._video)
        self._video.clear()
        self._video_bytes = 0

    async def _run(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.CancelledError):
            while not self.ws.closed:
                await self._wake.wait()
                self._wake.clear()
                while self._texts or self._audio or self._video:
                    if self.ws.closed:
                        return
                    if self._texts:
                        await self.ws.send_str(self._texts.popleft())
                    elif self._audio:
                        await self.ws.send_bytes(self._audio.popleft())
                    else:
                        frame = self._video.popleft()
                        self._video_bytes -= len(frame)
                        await self.ws.send_bytes(frame)
                    self.stats.forwarded += 1

    async def close(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
