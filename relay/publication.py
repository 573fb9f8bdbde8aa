"""What the relay owes a publisher, and the fan-out of its media to subscriber tracks.

aiortc decodes every received track and re-encodes every sent one; for a relay that is pure
waste. So each relay receiver's ``_handle_rtp_packet`` is replaced (per instance, through
:mod:`relay.compat`) by :meth:`Publication._on_rtp`, and the socket hook
(:mod:`relay.fastpath`) hands most media packets to :meth:`Publication.on_plain_rtp` before
aiortc sees them. Either way a publication keeps the receiver's duties towards the publisher
(statistics for receiver reports, NACK, RTX unwrapping, PLI, REMB) and hands every packet to
its subscribers' tracks (:mod:`relay.track`).

Only when publisher and subscriber share no codec does aiortc's own receive path run too:
its depacketised frames reach :meth:`Publication._on_frame` through a tap that stands in
for the receiver's decoder queue (:func:`relay.compat.tap_receiver`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine

import structlog
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci, unwrap_rtx

from relay import compat
from relay.counters import Counters
from relay.fastpath import FastRoute
from relay.limits import DEFAULT_LIMITS, StreamLimits
from relay.nack import LossTracker
from relay.rtp import (
    HEADER,
    ONE_BYTE_PROFILE,
    is_keyframe,
    ntp_now,
    one_byte_extension,
    rtp_layout,
)
from relay.tasks import spawn
from relay.track import EncodedFrame, ForwardTrack

log = structlog.get_logger(__name__)

PacketTap = Callable[[bytes, str], None]
"""Sees every decrypted media packet of a publication (bytes, codec MIME type): a recorder."""

KEYFRAME_REQUEST_INTERVAL_S = 0.3
"""At most one keyframe request per publisher in this interval."""
REMB_INTERVAL_S = 0.5
"""A subscriber's bitrate estimate goes to the publisher at most this often (unless it drops)."""


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
        limits: StreamLimits = DEFAULT_LIMITS,
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
        self._nack = LossTracker(limits.nack_window_packets) if kind == "video" else None
        self._needs_frames = False
        self._estimating = kind != "video"
        """Whether the receiver has aiortc's bandwidth estimator (dropped until the full
        receive path is needed: it is most of a video receiver's memory)."""
        if not self._estimating:
            internals.drop_bitrate_estimator()
        compat.tap_receiver(receiver, self._on_frame)
        self._full_path = internals.replace_rtp_handler(self._on_rtp)
        self._read_enabled = compat.read_enabled  # per packet: bound once
        self._count_received = compat.count_received
        self._taps: tuple[PacketTap, ...] = ()

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
            if not self._estimating:
                self._internals.restore_bitrate_estimator()
                self._estimating = True
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
        if self._taps:
            self._feed_taps(
                packet.serialize(self._internals.header_extensions()), codec.mimeType.lower()
            )
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
                track.use_frames()
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
            and self._read_enabled(self._receiver)
        )

    def on_plain_rtp(self, plain: bytes) -> None:
        """The fast path's half of :meth:`_on_rtp`: a decrypted media packet, as bytes."""
        try:
            payload_at, profile, block = rtp_layout(plain)
        except ValueError:
            self._counters.packets_dropped += 1
            return
        _, _, sequence, timestamp, ssrc = HEADER.unpack_from(plain)  # one call for all three
        self.packets += 1
        counters = self._counters
        counters.packets_in += 1
        counters.packets_fast += 1
        stream = self._streams.get(ssrc)
        if stream is not None:
            self._count_received(stream, sequence, timestamp)
        nack = self._nack
        if nack is not None and nack.add(sequence):
            self._spawn(self._internals.send_nack(ssrc, sorted(nack.missing)), "nack")
        if self._fanout and self._fan_out(plain, payload_at, profile, block, self._mime):
            self._needs_frames = True  # later packets go through aiortc's full path
        if self._taps:
            self._feed_taps(plain, self._mime)

    # --- taps (a recorder): see every packet, after the subscribers --------------------------

    def add_tap(self, tap: PacketTap) -> None:
        """Also hand every media packet (decrypted bytes, retransmissions unwrapped) to ``tap``,
        after the subscribers got it. With no tap the forwarding path pays one truth test."""
        self._taps = (*self._taps, tap)

    def remove_tap(self, tap: PacketTap) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)

    def _feed_taps(self, plain: bytes, mime: str) -> None:
        for tap in self._taps:
            try:
                tap(plain, mime)
            except Exception:  # a recorder's failure must never stop the call
                log.exception("relay.tap_failed", publication=self.label)
                self.remove_tap(tap)

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
            if track.wants_packets(lower):
                track.use_packets()
            else:
                track.use_frames()
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
        spawn(self._tasks, coro, f"{what}{self.label}")

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
