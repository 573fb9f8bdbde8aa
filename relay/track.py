"""A subscriber's track: what one sender gets of another participant's publication.

While the sender negotiated the publisher's codec, packets go straight through
(:meth:`ForwardTrack.forward_bytes`, rewritten by :class:`relay.outlet.PacketOutlet`).
Otherwise the track takes depacketised frames (:meth:`ForwardTrack.push`) and its ``recv()``
hands them to aiortc's sender: as ``av.Packet`` when only the container differs, decoded in a
worker thread when the two sides share no codec (the transcoding fallback).

A subscriber cannot decode video before a keyframe, so video is dropped until one starts, and
the publisher is asked for one when the track attaches and while it waits. Frame queues are
bounded: audio drops the oldest frame, video drops everything queued and waits for the next
keyframe. The packet path has no queue: a packet is sent before the next one is read.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

import av
import structlog
from aiortc.codecs import get_decoder
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCRtpSender
from av.frame import Frame
from av.packet import Packet
from av.stream import Stream

from relay.counters import Counters
from relay.limits import DEFAULT_LIMITS, StreamLimits
from relay.outlet import NOT_CONNECTED, SENT, PacketOutlet
from relay.rtp import starts_keyframe

log = structlog.get_logger(__name__)

KEYFRAME_RETRY_S = 1.0
"""A gated subscriber asks again when no keyframe came for this long."""
VIDEO_QUEUE_FRAMES = DEFAULT_LIMITS.video_queue_frames
"""About one second of video at 30 fps; beyond it the subscriber is too slow."""
AUDIO_QUEUE_FRAMES = DEFAULT_LIMITS.audio_queue_frames
"""One second of 20 ms Opus frames."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One depayloaded, jitter-buffered frame as the publisher sent it."""

    mime_type: str
    clock_rate: int
    data: bytes
    timestamp: int
    """RTP clock units from the publisher's first frame (aiortc's TimestampMapper)."""
    keyframe: bool
    codec: RTCRtpCodecParameters | None = field(compare=False)
    """aiortc's RTCRtpCodecParameters, needed only to build a decoder when transcoding."""


class Source(Protocol):
    """What a track needs of the publication it forwards (a :mod:`relay.publication`)."""

    def add(self, track: ForwardTrack) -> None: ...

    def discard(self, track: ForwardTrack) -> None: ...

    def request_keyframe(self) -> None: ...

    async def forward_bitrate(self, bitrate: int) -> None: ...


class ForwardTrack(MediaStreamTrack):
    """A sender's track fed with another participant's media.

    While the sender's codec matches the publisher's, media goes packet by packet through
    :meth:`forward_bytes` and the sender's own loop stays parked in ``recv()``. Otherwise
    ``recv()`` returns decoded ``av`` frames for the sender to encode. A track can outlive
    publishers: ``attach`` binds it to a new one and numbering continues where it stopped.
    """

    def __init__(
        self, kind: str, counters: Counters, limits: StreamLimits = DEFAULT_LIMITS
    ) -> None:
        super().__init__()
        self.kind = kind
        self._counters = counters
        self._limits = limits
        self._queue: collections.deque[EncodedFrame] = collections.deque(
            maxlen=limits.queue_frames(kind)
        )
        self._wakeup = asyncio.Event()
        self._source: Source | None = None
        self._gated = kind == "video"
        self._packet_gated = kind == "video"
        self._gate_asked = float("-inf")
        self._frame_mode = False
        self.output_mime: str | None = None
        """The codec this track's sender negotiated; None until known."""
        self._output_lower: str | None = None
        self.outlet: PacketOutlet | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._decoder: Decoder | None = None
        self._decoder_mime: str | None = None
        self.forwarded = 0
        self.dropped = 0

    @property
    def source(self) -> Source | None:
        return self._source

    @property
    def transcoding(self) -> bool:
        return self._decoder is not None

    def bind_sender(self, sender: RTCRtpSender) -> None:
        """Forward packets through ``sender`` (the sender this track was added to)."""
        step = 90_000 // 30 if self.kind == "video" else 48_000 // 50
        self.outlet = PacketOutlet(sender, step, self._limits.send_history_packets)

    def set_output(self, mime_type: str | None, payload_type: int | None) -> None:
        """The codec and payload type the sender negotiated."""
        self.output_mime = mime_type
        self._output_lower = mime_type.lower() if mime_type else None
        if self.outlet is not None:
            self.outlet.payload_type = payload_type

    def wants_packets(self, mime_lower: str) -> bool:
        """Whether media of this codec can go to the sender as packets (a pure query)."""
        return self.outlet is not None and self._output_lower == mime_lower

    def use_frames(self) -> None:
        """The publisher's codec is not the sender's: take decoded frames from now on (video
        waits for a keyframe)."""
        if not self._frame_mode:
            self._frame_mode = True
            self._gated = self.kind == "video"

    def use_packets(self) -> None:
        """The codecs match (again): forward packets; drop queued frames and the decoder
        (video waits for a keyframe)."""
        if self._frame_mode:
            self._frame_mode = False
            self._packet_gated = self.kind == "video"
            self._queue.clear()
            self._release_decoder()

    def attach(self, publication: Source) -> None:
        """Forward ``publication`` from now on (replacing any previous one)."""
        if self._source is publication:
            return
        if self._source is not None:
            self._source.discard(self)
        self._source = publication
        self._queue.clear()
        self._gated = self.kind == "video"
        self._packet_gated = self.kind == "video"
        self._rebase = True
        self._gate_asked = float("-inf")
        if self.outlet is not None:
            self.outlet.restart()
        publication.add(self)
        if self.outlet is None or self.outlet.ready():
            # Otherwise the first packet after the subscriber's transport is up asks.
            publication.request_keyframe()
        self._wakeup.set()  # a waiting recv() re-enters the gated wait, which retries

    def detach(self, publication: Source | None = None) -> None:
        if self._source is None or (publication is not None and self._source is not publication):
            return
        self._source.discard(self)
        self._source = None
        self._queue.clear()

    def request_keyframe(self) -> None:
        if self._source is not None:
            self._source.request_keyframe()

    async def forward_bitrate(self, bitrate: int) -> None:
        """The subscriber's REMB: its publisher should not send more than this."""
        source = self._source
        if source is not None and not self._frame_mode:
            await source.forward_bitrate(bitrate)

    def forward_bytes(
        self, plain: bytes, payload_at: int, audio_level: bytes | None, mime_lower: str, ntp: int
    ) -> None:
        """Send one of the publisher's decrypted packets on (gated for video until a keyframe).

        Only for media :meth:`wants_packets`; the first packet after frames switches back.
        """
        if self._frame_mode:
            self.use_packets()
        outlet = self.outlet
        if outlet is None or self.readyState != "live":
            return
        if self._packet_gated and not self._gate_opens(
            outlet, starts_keyframe(mime_lower, plain[payload_at : payload_at + 64])
        ):
            return
        outcome = outlet.forward_bytes(plain, payload_at, audio_level, ntp)
        if outcome == SENT:  # per packet: the common case without another call
            self._counters.packets_forwarded += 1
        else:
            self._count(outcome)

    def _gate_opens(self, outlet: PacketOutlet, keyframe_start: bool) -> bool:
        """Whether a packet passes the closed video gate (and so opens it).

        Only a keyframe's first packet opens it, and only once the subscriber can receive:
        a keyframe sent into a transport still coming up is lost. While it waits with a
        transport up, the subscriber asks the publisher for a keyframe every so often; the
        first ask comes with the first packet after the transport is up.
        """
        if not outlet.ready():
            self._counters.packets_dropped += 1
            self._gate_asked = float("-inf")
            return False
        if not keyframe_start:
            self._counters.packets_dropped += 1
            now = time.monotonic()
            if now - self._gate_asked >= KEYFRAME_RETRY_S:
                self._gate_asked = now
                self.request_keyframe()
            return False
        self._packet_gated = False
        outlet.restart()
        return True

    def _count(self, outcome: int) -> None:
        if outcome == SENT:
            self._counters.packets_forwarded += 1
            return
        self._counters.packets_dropped += 1
        if outcome == NOT_CONNECTED and self.kind == "video":
            # The subscriber's DTLS is still coming up: what it missed may be the keyframe,
            # so wait for the next one and ask for it with the first packet after.
            self._packet_gated = True
            self._gate_asked = float("-inf")

    def push(self, frame: EncodedFrame) -> None:
        """Queue a frame (called on the event loop by the publication)."""
        if self.readyState != "live":
            return
        self._frame_mode = True
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

    async def recv(self) -> Frame | Packet[Stream]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if not self._queue:
                self._wakeup.clear()
                if not (self._gated and self._frame_mode):
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

    async def _decode(self, frame: EncodedFrame, pts: int) -> Frame | None:
        """The fallback when publisher and subscriber share no codec."""
        if frame.codec is None:  # only frames built without aiortc's codec (tests)
            self._drop(1)
            return None
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
