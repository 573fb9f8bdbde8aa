"""One recording part: encoded frames muxed into WebM or Matroska with PyAV (remux only).

Nothing is decoded or encoded: each frame becomes one container packet. The streams (one per
participant and media kind) must all exist before the file's header is written, and a video
stream wants its picture size, so frames wait in memory until every expected stream has
delivered its first frame (video: a keyframe) or ``start_wait_s`` has passed; then the file is
opened with the streams that have frames, and frames go straight to it.

Timestamps: the recording's time zero is the arrival of its first frame (whatever the stream);
a stream's first frame is placed at its arrival time on that clock;
later frames follow their RTP timestamps (so network jitter does not show). A new SSRC (the
publisher reconnected) is placed at its arrival time again, never before the stream's last
packet, so the recording continues across a reconnect.

Writing stops at the first error (a full disk: ``OSError``): the file is closed as it is, which
leaves every cluster written so far playable, and ``on_failed`` says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import structlog

from relay.recording.frames import CLOCK_RATES, Frame

log = structlog.get_logger(__name__)

MS = Fraction(1, 1000)
START_WAIT_S = 10.0
"""How long the file waits for every stream's first frame before it starts without it (a
participant's connection to the relay may still be coming up when the recording starts)."""
DEFAULT_SIZE = (640, 480)
"""Picture size written for a video stream whose keyframe does not say it (H.264)."""

ENCODER_NAMES = {"video/vp8": "libvpx", "video/h264": "h264", "audio/opus": "libopus"}


@dataclass(frozen=True)
class PartResult:
    """What a finished part holds."""

    path: Path
    duration_s: float
    size_bytes: int
    streams: int
    error: str | None = None


def vp8_size(keyframe: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 9.1), or None."""
    if len(keyframe) < 10 or keyframe[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(keyframe[6:8], "little") & 0x3FFF
    height = int.from_bytes(keyframe[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass
class _Track:
    key: tuple[str, str]
    mime: str
    clock: int
    ssrc: int | None = None
    base_ms: int = 0
    elapsed: int = 0
    """RTP ticks since the current SSRC's first frame."""
    last_ts: int = 0
    last_pts: int = -1
    size: tuple[int, int] | None = None
    stream: Any = None


class PartWriter:
    """Frames of several streams into one file, in arrival order."""

    def __init__(
        self,
        path: Path,
        expected: set[tuple[str, str]],
        on_failed: Callable[[str], None] = lambda reason: None,
        *,
        start_wait_s: float = START_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._expected = set(expected)
        self._on_failed = on_failed
        self._start_wait_s = start_wait_s
        self._clock = clock
        self._created = clock()
        self._started: float | None = None
        """The recording's time zero: the first frame's arrival."""
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._waiting: list[tuple[_Track, int, Frame]] = []
        self._container: Any = None
        self.error: str | None = None
        self.closed = False
        self.packets = 0

    def write(self, participant: str, kind: str, mime: str, frame: Frame) -> None:
        """One encoded frame of ``participant``'s ``kind`` stream, as it arrives."""
        if self.closed or self.error is not None:
            return
        key = (participant, kind)
        track = self._tracks.get(key)
        if track is None:
            if self._container is not None:
                return  # the file's streams are fixed once its header is written
            mime = mime.lower()
            track = _Track(key, mime, CLOCK_RATES.get(mime, 90000))
            self._tracks[key] = track
        pts = self._pts(track, frame)
        if track.size is None and frame.keyframe and track.mime == "video/vp8":
            track.size = vp8_size(frame.data)
        if self._container is None:
            self._waiting.append((track, pts, frame))
            if self._ready():
                self._open()
            return
        self._mux(track, pts, frame)

    def _pts(self, track: _Track, frame: Frame) -> int:
        """Milliseconds on the recording's clock."""
        now = self._clock()
        if self._started is None:
            self._started = now
        now_ms = int((now - self._started) * 1000)
        if track.ssrc != frame.ssrc:
            track.ssrc = frame.ssrc
            track.base_ms = max(now_ms, track.last_pts + 1)
            track.elapsed = 0
            track.last_ts = frame.timestamp
        # Unwrap the 32-bit timestamp relative to the previous frame.
        delta = (frame.timestamp - track.last_ts) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        track.last_ts = frame.timestamp
        track.elapsed += delta
        pts = track.base_ms + track.elapsed * 1000 // track.clock
        pts = max(pts, track.last_pts + 1)
        track.last_pts = pts
        return pts

    def _ready(self) -> bool:
        if self._clock() - self._created >= self._start_wait_s:
            return True
        return self._expected <= set(self._tracks)

    def _open(self) -> None:
        tracks = list(self._tracks.values())
        all_vp8 = all(t.mime == "video/vp8" for t in tracks if t.mime.startswith("video/"))
        supported = [t for t in tracks if t.mime in ENCODER_NAMES]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            container = av.open(str(self.path), "w", format="webm" if all_vp8 else "matroska")
            for track in supported:
                participant, kind = track.key
                stream: Any
                if kind == "video":
                    stream = container.add_stream(ENCODER_NAMES[track.mime], rate=30)
                    stream.width, stream.height = track.size or DEFAULT_SIZE
                    stream.pix_fmt = "yuv420p"
                else:
                    stream = container.add_stream(ENCODER_NAMES[track.mime], rate=48000)
                stream.time_base = MS
                stream.metadata["title"] = f"{participant} {kind}"
                track.stream = stream
            self._container = container
        except (OSError, ValueError, av.FFmpegError) as exc:
            self._fail(f"the recording file could not be created: {exc}")
            return
        waiting, self._waiting = self._waiting, []
        for track, pts, frame in waiting:
            self._mux(track, pts, frame)

    def _mux(self, track: _Track, pts: int, frame: Frame) -> None:
        if track.stream is None or self.error is not None:
            return
        packet = av.Packet(frame.data)
        packet.stream = track.stream
        packet.pts = packet.dts = pts
        packet.time_base = MS
        packet.is_keyframe = frame.keyframe
        try:
            self._container.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            self._fail(f"writing the recording failed: {exc}")
            return
        self.packets += 1

    def _fail(self, reason: str) -> None:
        self.error = reason
        log.warning("recording.write_failed", path=str(self.path), reason=reason)
        self._close_container()
        self._on_failed(reason)

    def _close_container(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.close()
        except (OSError, av.FFmpegError) as exc:  # the trailer could not be written
            log.warning("recording.close_failed", path=str(self.path), reason=str(exc))

    def close(self) -> PartResult:
        """Finish the file (writing whatever still waits) and say what it holds."""
        if not self.closed:
            self.closed = True
            if self._container is None and self._waiting and self.error is None:
                self._open()
            self._close_container()
        return describe(self.path, error=self.error)


def describe(path: Path, error: str | None = None) -> PartResult:
    """Duration, size and stream count of a recording file as PyAV reads it."""
    if not path.exists():
        return PartResult(path, 0.0, 0, 0, error or "nothing was recorded")
    size = path.stat().st_size
    try:
        with av.open(str(path)) as container:
            duration = 0.0
            for stream in container.streams:
                if stream.duration is not None and stream.time_base is not None:
                    duration = max(duration, float(stream.duration * stream.time_base))
            if container.duration is not None:
                duration = max(duration, container.duration / av.time_base)
            if duration == 0.0:
                duration = _last_packet_time(container)
            return PartResult(path, round(duration, 3), size, len(container.streams), error)
    except (OSError, av.FFmpegError) as exc:
        return PartResult(path, 0.0, size, 0, error or f"unreadable: {exc}")


def _last_packet_time(container: Any) -> float:
    """A file closed without its index (a full disk): read the packets for its length."""
    last = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            last = max(last, float(packet.pts * packet.time_base))
    return last
