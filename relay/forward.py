"""Forwarding encoded media from one peer connection to another without re-encoding.

aiortc decodes every received track and re-encodes every sent one. For a relay that is pure
waste, so this module hooks into two places of aiortc (pinned: aiortc >=1.16,<1.17):

* **Receiver tap.** ``RTCRtpReceiver._handle_rtp_packet`` RTX-unwraps, NACKs, depayloads and
  jitter-buffers the incoming RTP, then hands each complete encoded frame to its decoder
  thread through ``__decoder_queue.put((codec, frame))``. :func:`tap_receiver` swaps that
  queue (per receiver instance, before ``receive()`` starts the thread) for a
  :class:`_ReceiverTap` whose ``put`` calls us synchronously on the event loop. Nothing is
  decoded, nothing crosses threads, and the unread ``RemoteStreamTrack`` never fills up. The
  idle decoder thread only waits for the stop sentinel.
* **Sender side.** ``RTCRtpSender`` only packetises what a track's ``recv()`` returns when it
  is an ``av.Packet`` (``Encoder.pack``), so :class:`ForwardTrack` returns packets. The
  sender ignores keyframe requests on that path, so :func:`hook_keyframe_requests` replaces
  the instance's ``_send_keyframe`` to pass PLI/FIR on to the publisher, whose receiver sends
  an RTCP PLI with ``_send_rtcp_pli``.

A subscriber cannot decode anything before a keyframe, so a video :class:`ForwardTrack` drops
frames until one arrives and asks the publisher for one when it starts, when it overflows and
while it waits. Requests to a publisher are rate-limited. Queues are bounded: audio drops the
oldest frame, video drops everything queued and waits for the next keyframe.

Only when the two sides negotiated different codecs does a track decode (in a worker
thread) and hand ``av`` frames to the sender, which then encodes them as usual.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import structlog
from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = structlog.get_logger(__name__)

KEYFRAME_REQUEST_INTERVAL_S = 0.3
"""At most one keyframe request per publisher in this interval."""
KEYFRAME_RETRY_S = 1.0
"""A gated subscriber asks again when no keyframe came for this long."""
VIDEO_QUEUE_FRAMES = 30
"""About one second of video at 30 fps; beyond it the subscriber is too slow."""
AUDIO_QUEUE_FRAMES = 50
"""One second of 20 ms Opus frames."""

TASK_PREFIX = "relay-"
"""Every task this package starts is named with this prefix (tests count them)."""

_TAP_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"
_THREAD_ATTRIBUTE = "_RTCRtpReceiver__decoder_thread"
_RTX_ATTRIBUTE = "_RTCRtpReceiver__rtx_ssrc"


@dataclass
class Counters:
    """Totals for metrics, shared by every publication and track of one manager."""

    frames_in: int = 0
    frames_forwarded: int = 0
    frames_dropped: int = 0
    frames_transcoded: int = 0
    keyframe_requests: int = 0


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a depayloaded frame can be decoded on its own.

    VP8: bit 0 of the frame tag is 0 on key frames (RFC 6386 9.1). H.264 (Annex B as
    aiortc's depayloader emits it): the frame holds an IDR slice (5) or an SPS (7).
    Audio frames are always independent.
    """
    mime = mime_type.lower()
    if mime == "video/vp8":
        return bool(data) and not data[0] & 0x01
    if mime == "video/h264":
        start = data.find(b"\x00\x00\x01")
        while start != -1 and start + 3 < len(data):
            if data[start + 3] & 0x1F in (5, 7):
                return True
            start = data.find(b"\x00\x00\x01", start + 3)
        return False
    return not mime.startswith("video/")


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One depayloaded, jitter-buffered frame as the publisher sent it."""

    mime_type: str
    clock_rate: int
    data: bytes
    timestamp: int
    """RTP clock units from the publisher's first frame (aiortc's TimestampMapper)."""
    keyframe: bool
    codec: Any = field(compare=False)
    """aiortc's RTCRtpCodecParameters, needed only to build a decoder when transcoding."""


class _ReceiverTap:
    """Stands in for a receiver's decoder queue (see the module docstring)."""

    def __init__(self, on_frame: Callable[[Any, JitterFrame], None]) -> None:
        self._on_frame = on_frame
        self._stop: queue.Queue[None] = queue.Queue()

    def put(self, item: tuple[Any, JitterFrame] | None) -> None:
        if item is None:
            self._stop.put(None)
            return
        codec, frame = item
        try:
            self._on_frame(codec, frame)
        except Exception:  # a bad frame must never break the receiver's RTP handling
            log.exception("relay.tap_failed")

    def get(self) -> None:
        return self._stop.get()


def tap_receiver(receiver: Any, on_frame: Callable[[Any, JitterFrame], None]) -> None:
    """Deliver ``receiver``'s encoded frames to ``on_frame`` instead of its decoder.

    Must run before the receiver starts (before DTLS connects); raises RuntimeError if the
    installed aiortc does not have the expected internals or the receiver already runs.
    """
    if not hasattr(receiver, _TAP_ATTRIBUTE) or not hasattr(receiver, _THREAD_ATTRIBUTE):
        raise RuntimeError("this aiortc version has no receiver decoder queue to tap")
    if getattr(receiver, _THREAD_ATTRIBUTE) is not None:
        raise RuntimeError("the receiver already runs; tap it before it connects")
    setattr(receiver, _TAP_ATTRIBUTE, _ReceiverTap(on_frame))


def is_tapped(receiver: Any) -> bool:
    return isinstance(getattr(receiver, _TAP_ATTRIBUTE, None), _ReceiverTap)


def hook_keyframe_requests(sender: Any, on_request: Callable[[], None]) -> None:
    """Call ``on_request`` when the remote side of ``sender`` sends a PLI or FIR.

    aiortc's own handler only flags its encoder, which the packet path never uses; it is
    still called so that a transcoding sender produces a keyframe too.
    """
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        on_request()

    sender._send_keyframe = send_keyframe


class Publication:
    """What one participant publishes on one receiver, fanned out to subscriber tracks."""

    def __init__(self, kind: str, receiver: Any, counters: Counters, label: str = "") -> None:
        self.kind = kind
        self.label = label
        self._receiver = receiver
        self._counters = counters
        self._subscribers: set[ForwardTrack] = set()
        self._last_request = float("-inf")
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        self.frames = 0
        tap_receiver(receiver, self._on_frame)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def add(self, track: ForwardTrack) -> None:
        self._subscribers.add(track)

    def discard(self, track: ForwardTrack) -> None:
        self._subscribers.discard(track)

    def _on_frame(self, codec: Any, frame: JitterFrame) -> None:
        self.frames += 1
        self._counters.frames_in += 1
        if not self._subscribers:
            return
        mime = codec.mimeType
        data = bytes(frame.data)
        encoded = EncodedFrame(
            mime_type=mime,
            clock_rate=codec.clockRate,
            data=data,
            timestamp=frame.timestamp,
            keyframe=is_keyframe(mime, data),
            codec=codec,
        )
        for track in self._subscribers:
            track.push(encoded)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (RTCP PLI), at most once per interval."""
        if self.kind != "video" or self.closed:
            return
        now = time.monotonic()
        if now - self._last_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        self._last_request = now
        rtx = getattr(self._receiver, _RTX_ATTRIBUTE, {})
        ssrcs = [
            source.source
            for source in self._receiver.getSynchronizationSources()
            if source.source not in rtx
        ]
        if not ssrcs:
            return
        self._counters.keyframe_requests += 1
        task = asyncio.get_running_loop().create_task(
            self._send_pli(ssrcs), name=f"{TASK_PREFIX}pli{self.label}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_pli(self, ssrcs: list[int]) -> None:
        for ssrc in ssrcs:
            await self._receiver._send_rtcp_pli(ssrc)

    def close(self) -> None:
        self.closed = True
        for track in list(self._subscribers):
            track.detach(self)
        for task in list(self._tasks):
            task.cancel()


class ForwardTrack(MediaStreamTrack):
    """A sender's track fed with another participant's frames.

    ``recv()`` returns ``av.Packet`` (packetised only by aiortc's sender) or, when the two
    sides' codecs differ, decoded ``av`` frames. It can outlive publishers: ``attach`` binds
    it to a new one and timestamps continue where they stopped.
    """

    def __init__(self, kind: str, counters: Counters) -> None:
        super().__init__()
        self.kind = kind
        self._counters = counters
        self._queue: collections.deque[EncodedFrame] = collections.deque(
            maxlen=VIDEO_QUEUE_FRAMES if kind == "video" else AUDIO_QUEUE_FRAMES
        )
        self._wakeup = asyncio.Event()
        self._source: Publication | None = None
        self._gated = kind == "video"
        self.output_mime: str | None = None
        """The codec this track's sender negotiated; None until known (then: pass through)."""
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._decoder: Any = None
        self._decoder_mime: str | None = None
        self.forwarded = 0
        self.dropped = 0

    @property
    def source(self) -> Publication | None:
        return self._source

    @property
    def transcoding(self) -> bool:
        return self._decoder is not None

    def attach(self, publication: Publication) -> None:
        """Forward ``publication`` from now on (replacing any previous one)."""
        if self._source is publication:
            return
        if self._source is not None:
            self._source.discard(self)
        self._source = publication
        self._queue.clear()
        self._gated = self.kind == "video"
        self._rebase = True
        publication.add(self)
        publication.request_keyframe()
        self._wakeup.set()  # a waiting recv() re-enters the gated wait, which retries

    def detach(self, publication: Publication | None = None) -> None:
        if self._source is None or (publication is not None and self._source is not publication):
            return
        self._source.discard(self)
        self._source = None
        self._queue.clear()

    def request_keyframe(self) -> None:
        if self._source is not None:
            self._source.request_keyframe()

    def push(self, frame: EncodedFrame) -> None:
        """Queue a frame (called on the event loop by the publication)."""
        if self.readyState != "live":
            return
        if self._gated:
            if not frame.keyframe:
                self._drop(1)
                return
            self._gated = False
        elif len(self._queue) == self._queue.maxlen:
            if self.kind == "video":
                # The subscriber cannot keep up: anything after a gap needs a keyframe.
                self._drop(len(self._queue))
                self._queue.clear()
                if not frame.keyframe:
                    self._gated = True
                    self._drop(1)
                    self.request_keyframe()
                    return
            else:
                self._drop(1)  # the deque's maxlen drops the oldest frame
        self._queue.append(frame)
        self._wakeup.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._counters.frames_dropped += count

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if not self._queue:
                self._wakeup.clear()
                if not self._gated:
                    await self._wakeup.wait()
                    continue
                try:
                    await asyncio.wait_for(self._wakeup.wait(), KEYFRAME_RETRY_S)
                except TimeoutError:
                    self.request_keyframe()
                continue
            frame = self._queue.popleft()
            pts = self._output_pts(frame)
            if self.output_mime is None or frame.mime_type.lower() == self.output_mime.lower():
                self._release_decoder()
                packet = av.Packet(frame.data)
                packet.pts = pts
                packet.time_base = Fraction(1, frame.clock_rate)
                self.forwarded += 1
                self._counters.frames_forwarded += 1
                return packet
            decoded = await self._decode(frame, pts)
            if decoded is not None:
                return decoded

    def _output_pts(self, frame: EncodedFrame) -> int:
        """Keep timestamps increasing across publishers (a rejoin restarts them at 0)."""
        if self._rebase:
            self._rebase = False
            if self._last_pts is not None:
                step = frame.clock_rate // 30 if self.kind == "video" else frame.clock_rate // 50
                self._offset = self._last_pts + step - frame.timestamp
        pts = frame.timestamp + self._offset
        self._last_pts = pts
        return pts

    async def _decode(self, frame: EncodedFrame, pts: int) -> Any:
        """The fallback when publisher and subscriber share no codec."""
        if self._decoder is None or self._decoder_mime != frame.mime_type:
            self._decoder = get_decoder(frame.codec)
            self._decoder_mime = frame.mime_type
            log.info(
                "relay.transcoding", kind=self.kind, source=frame.mime_type, to=self.output_mime
            )
        decoder = self._decoder
        jitter_frame = JitterFrame(data=frame.data, timestamp=pts)
        loop = asyncio.get_running_loop()
        try:
            decoded = await loop.run_in_executor(None, decoder.decode, jitter_frame)
        except av.FFmpegError:
            self._drop(1)
            if self.kind == "video":
                self._gated = True
                self.request_keyframe()
            return None
        if not decoded:
            return None
        self._counters.frames_transcoded += 1
        self.forwarded += 1
        self._counters.frames_forwarded += 1
        return decoded[0]

    def _release_decoder(self) -> None:
        if self._decoder is not None:
            self._decoder = None
            self._decoder_mime = None

    def stop(self) -> None:
        self.detach()
        self._release_decoder()
        super().stop()
        self._wakeup.set()
