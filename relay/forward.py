"""Forwarding media from one peer connection to another without decoding it.

aiortc decodes every received track and re-encodes every sent one. For a relay that is pure
waste, so this module hooks into aiortc (pinned: aiortc >=1.16,<1.17) at three places:

* **Packets in.** Each relay receiver's ``_handle_rtp_packet`` is replaced (per instance) by
  :meth:`Publication._on_rtp`, which keeps the receiver's duties towards the publisher
  (statistics for receiver reports, NACK, RTX unwrapping) and hands every packet to the
  subscribers' :class:`ForwardTrack`. Those whose sender negotiated the same codec send it
  on at once, rewritten by :class:`relay.rtp.PacketOutlet`.
* **Feedback out.** A subscriber's PLI/FIR reaches its sender's ``_send_keyframe``, and its
  REMB the sender's ``_handle_rtcp_packet``; :func:`hook_sender_feedback` passes both on to
  the publisher (keyframe requests rate-limited), whose receiver sends them as RTCP.
* **Frames, only for transcoding.** When publisher and subscriber share no codec, aiortc's
  own receive path runs too, and its depacketised frames reach :class:`ForwardTrack`
  through a tap that stands in for the receiver's decoder queue
  (``RTCRtpReceiver.__decoder_queue.put((codec, frame))``, see
  :func:`relay.compat.tap_receiver`): the
  track decodes them in a worker thread and its sender encodes as usual. A track without a
  bound sender hands the encoded frames to aiortc's packetiser as ``av.Packet`` instead.

A subscriber cannot decode video before a keyframe, so video is dropped until one starts,
and the publisher is asked for one when a subscriber attaches and while it waits. Frame
queues are bounded: audio drops the oldest frame, video drops everything queued and waits
for the next keyframe. The packet path has no queue: a packet is sent before the next one is
read.
"""

from __future__ import annotations

import asyncio
import collections
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from fractions import Fraction

import av
import structlog
from aiortc.codecs import get_decoder
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
    unwrap_rtx,
)
from av.frame import Frame
from av.packet import Packet
from av.stream import Stream

from relay import compat
from relay.fastpath import (
    ONE_BYTE_PROFILE,
    FastRoute,
    LossTracker,
    RtpHeader,
    one_byte_extension,
    rtp_layout,
)
from relay.rtp import NOT_CONNECTED, SENT, PacketOutlet, ntp_now, starts_keyframe

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

_SEQ_TS = struct.Struct("!HI")

REMB_INTERVAL_S = 0.5
"""A subscriber's bitrate estimate goes to the publisher at most this often (unless it drops)."""


@dataclass
class Counters:
    """Totals for metrics, shared by every publication and track of one manager."""

    packets_in: int = 0
    packets_forwarded: int = 0
    packets_dropped: int = 0
    packets_fast: int = 0
    """Packets received and forwarded within the datagram callback (:mod:`relay.fastpath`)."""
    frames_in: int = 0
    frames_forwarded: int = 0
    frames_dropped: int = 0
    frames_transcoded: int = 0
    keyframe_requests: int = 0
    bitrate_reports: int = 0


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
    codec: RTCRtpCodecParameters | None = field(compare=False)
    """aiortc's RTCRtpCodecParameters, needed only to build a decoder when transcoding."""


def hook_sender_feedback(
    sender: RTCRtpSender,
    on_keyframe_request: Callable[[], None],
    on_bitrate: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Pass the remote side's PLI/FIR and REMB for ``sender`` on to the callbacks.

    aiortc's own handlers only steer its encoder, which the packet path never uses; they
    still run, so that a transcoding sender produces a keyframe and follows the bitrate.
    """
    compat.wrap_keyframe_request(sender, on_keyframe_request)
    if on_bitrate is None:
        return
    ssrc = compat.SenderInternals(sender).ssrc

    async def on_rtcp(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            if ssrc in ssrcs:
                await on_bitrate(bitrate)

    compat.wrap_rtcp_handler(sender, on_rtcp)


class Publication:
    """What one participant publishes on one receiver, fanned out to subscriber tracks.

    The receiver's ``_handle_rtp_packet`` is replaced per instance by :meth:`_on_rtp`: a
    subscriber whose sender negotiated the publisher's codec gets each packet rewritten and
    sent at once (:mod:`relay.rtp`). The relay keeps what a receiver owes its publisher:
    reception statistics for its RTCP receiver reports, NACKs for packets lost on the way
    in (the publisher's retransmissions are unwrapped and forwarded like any packet), PLIs,
    and REMB, which is the subscriber's own estimate passed on. aiortc's full receive path
    (bandwidth estimator, depayloader, jitter buffer, then the frame tap) runs only while a
    subscriber needs decoded frames because the two sides share no codec.
    """

    def __init__(
        self,
        kind: str,
        receiver: RTCRtpReceiver,
        counters: Counters,
        label: str = "",
        routes: dict[int, FastRoute] | None = None,
    ) -> None:
        self.kind = kind
        self.label = label
        self._routes = routes
        """The connection's fast-path routes (:mod:`relay.fastpath`), keyed by SSRC."""
        self.media_payload_type: int | None = None
        self._mime = ""
        self._level_id = 0
        self._receiver = receiver
        self._counters = counters
        self._subscribers: set[ForwardTrack] = set()
        self._fanout: tuple[ForwardTrack, ...] = ()
        self._last_request = float("-inf")
        self._last_bitrate: tuple[float, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        self.frames = 0
        self.packets = 0
        self.media_ssrcs: set[int] = set()
        internals = compat.ReceiverInternals(receiver)
        self._internals = internals
        self._codecs = internals.codecs
        self._rtx_ssrc = internals.rtx_ssrc
        self._streams = internals.streams
        self._nack = LossTracker() if kind == "video" else None
        self._needs_frames = False
        compat.tap_receiver(receiver, self._on_frame)
        self._full_path = internals.replace_rtp_handler(self._on_rtp)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def add(self, track: ForwardTrack) -> None:
        self._subscribers.add(track)
        self._fanout = tuple(self._subscribers)

    def discard(self, track: ForwardTrack) -> None:
        self._subscribers.discard(track)
        self._fanout = tuple(self._subscribers)

    async def _on_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """Every RTP packet of this receiver (called by aiortc's transport, on the loop)."""
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return
        self.packets += 1
        counters = self._counters
        counters.packets_in += 1
        frames = self._needs_frames
        if frames:
            await self._full_path(packet, arrival_time_ms=arrival_time_ms)
        else:
            stream = self._streams.get(packet.ssrc)
            if stream is None:
                stream = self._streams[packet.ssrc] = StreamStatistics(codec.clockRate)
            stream.add(packet)
        if codec.name.lower() == "rtx":
            original = self._rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original is None or len(packet.payload) < 2 or apt not in self._codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original)
            codec = self._codecs[apt]
        elif packet.ssrc not in self.media_ssrcs:
            self._learn(packet.ssrc, packet.payload_type, codec)
        nack = self._nack
        if not frames and nack is not None and nack.add(packet.sequence_number):
            await self._internals.send_nack(packet.ssrc, sorted(nack.missing))
        if not self._fanout:
            self._needs_frames = False
            return
        # Rare here (a new SSRC, a retransmission, transcoding): serialise once and share
        # the fast path's forwarding rather than keep a second, object-based rewriter.
        plain = packet.serialize(self._internals.header_extensions())
        try:
            payload_at, profile, block = rtp_layout(plain)
        except ValueError:
            return
        self._needs_frames = self._fan_out(
            plain, payload_at, profile, block, codec.mimeType.lower()
        )

    def _fan_out(
        self, plain: bytes, payload_at: int, profile: int, block: bytes, mime: str
    ) -> bool:
        """Send a decrypted packet to every subscriber that takes packets of ``mime``;
        True when some subscriber needs decoded frames instead."""
        level = None
        if self._level_id and profile == ONE_BYTE_PROFILE:
            level = one_byte_extension(block, self._level_id)
        ntp = ntp_now()
        needs_frames = False
        for track in self._fanout:
            if track.wants_packets(mime):
                track.forward_bytes(plain, payload_at, level, mime, ntp)
            else:
                needs_frames = True
        return needs_frames

    def _learn(self, ssrc: int, payload_type: int, codec: RTCRtpCodecParameters) -> None:
        """A new media SSRC: from now on its packets can take the fast path."""
        self.media_ssrcs.add(ssrc)
        self.media_payload_type = payload_type
        self._mime = codec.mimeType.lower()
        self._level_id = compat.extension_ids(self._internals.header_extensions()).audio_level
        if self._routes is not None:
            self._routes[ssrc] = self

    def accepts(self, payload_type: int) -> bool:
        """Whether a packet of this payload type can take the fast path now."""
        return (
            payload_type == self.media_payload_type
            and not self._needs_frames
            and not self.closed
            and self._internals.enabled()
        )

    def on_plain_rtp(self, plain: bytes) -> None:
        """The fast path's half of :meth:`_on_rtp`: a decrypted media packet, as bytes."""
        try:
            payload_at, profile, block = rtp_layout(plain)
        except ValueError:
            self._counters.packets_dropped += 1
            return
        sequence, timestamp = _SEQ_TS.unpack_from(plain, 2)
        ssrc = int.from_bytes(plain[8:12], "big")
        self.packets += 1
        counters = self._counters
        counters.packets_in += 1
        counters.packets_fast += 1
        header = RtpHeader(sequence, timestamp)
        stream = self._streams.get(ssrc)
        if stream is not None:
            stream.add(header)  # type: ignore[arg-type]
        nack = self._nack
        if nack is not None and nack.add(sequence):
            self._spawn(self._internals.send_nack(ssrc, sorted(nack.missing)), "nack")
        if self._fanout and self._fan_out(plain, payload_at, profile, block, self._mime):
            self._needs_frames = True  # later packets go through aiortc's full path

    def _on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        """A depacketised frame from aiortc's full path (only runs for transcoding)."""
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
        lower = mime.lower()
        for track in self._fanout:
            if not track.wants_packets(lower):
                track.push(encoded)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (RTCP PLI), at most once per interval."""
        if self.kind != "video" or self.closed:
            return
        now = time.monotonic()
        if now - self._last_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        ssrcs = sorted(self.media_ssrcs)
        if not ssrcs:
            return  # nothing received yet: its first packets will bring a keyframe anyway
        self._last_request = now
        self._counters.keyframe_requests += 1
        self._spawn(self._send_pli(ssrcs), "pli")

    async def _send_pli(self, ssrcs: list[int]) -> None:
        for ssrc in ssrcs:
            await self._internals.send_pli(ssrc)

    async def forward_bitrate(self, bitrate: int) -> None:
        """Pass a subscriber's REMB estimate on to the publisher, at most every 0.5 s
        unless it falls by a fifth or more."""
        if self.closed or not self.media_ssrcs:
            return
        rtcp_ssrc = self._internals.rtcp_ssrc()
        if rtcp_ssrc is None:
            return
        now = time.monotonic()
        last = self._last_bitrate
        if last is not None and now - last[0] < REMB_INTERVAL_S and bitrate > last[1] * 0.8:
            return
        self._last_bitrate = (now, bitrate)
        self._counters.bitrate_reports += 1
        packet = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP,
            ssrc=rtcp_ssrc,
            media_ssrc=0,
            fci=pack_remb_fci(bitrate, sorted(self.media_ssrcs)),
        )
        await self._internals.send_rtcp(packet)

    def _spawn(self, coro: Coroutine[object, object, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"{TASK_PREFIX}{what}{self.label}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        self.closed = True
        if self._routes is not None:
            for ssrc in self.media_ssrcs:
                if self._routes.get(ssrc) is self:
                    del self._routes[ssrc]
        for track in list(self._subscribers):
            track.detach(self)
        for task in list(self._tasks):
            task.cancel()


class ForwardTrack(MediaStreamTrack):
    """A sender's track fed with another participant's media.

    While the sender's codec matches the publisher's, media goes packet by packet through
    :meth:`forward_bytes` and the sender's own loop stays parked in ``recv()``. Otherwise
    ``recv()`` returns decoded ``av`` frames for the sender to encode. A track can outlive
    publishers: ``attach`` binds it to a new one and numbering continues where it stopped.
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
    def source(self) -> Publication | None:
        return self._source

    @property
    def transcoding(self) -> bool:
        return self._decoder is not None

    def bind_sender(self, sender: RTCRtpSender) -> None:
        """Forward packets through ``sender`` (the sender this track was added to)."""
        step = 90_000 // 30 if self.kind == "video" else 48_000 // 50
        self.outlet = PacketOutlet(sender, step)

    def set_output(self, mime_type: str | None, payload_type: int | None) -> None:
        """The codec and payload type the sender negotiated."""
        self.output_mime = mime_type
        self._output_lower = mime_type.lower() if mime_type else None
        if self.outlet is not None:
            self.outlet.payload_type = payload_type

    def wants_packets(self, mime_lower: str) -> bool:
        """Whether media of this codec can go to the sender as packets."""
        wants = self.outlet is not None and self._output_lower == mime_lower
        if not wants and not self._frame_mode:
            self._frame_mode = True
            self._gated = self.kind == "video"
        elif wants and self._frame_mode:
            self._frame_mode = False
            self._packet_gated = self.kind == "video"
            self._queue.clear()
            self._release_decoder()
        return wants

    def attach(self, publication: Publication) -> None:
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

    def detach(self, publication: Publication | None = None) -> None:
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
        """Send one of the publisher's decrypted packets on (gated for video until a keyframe)."""
        outlet = self.outlet
        if outlet is None or self.readyState != "live":
            return
        if self._packet_gated and not self._gate_opens(
            outlet, starts_keyframe(mime_lower, plain[payload_at : payload_at + 64])
        ):
            return
        self._count(outlet.forward_bytes(plain, payload_at, audio_level, ntp))

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
