"""From RTP packets to whole encoded frames, without decoding anything.

A recorder sees the decrypted RTP packets a publication receives (its tap, see
:meth:`relay.publication.Publication.add_tap`), in arrival order, with the publisher's
retransmissions already unwrapped. :class:`FrameAssembler` strips each packet's payload
header (aiortc's depayloaders: the VP8 payload descriptor, H.264 FU-A/STAP-A to Annex B),
gathers the packets of one RTP timestamp and hands out a frame once it is whole: its first
packet, its last (the marker bit) and every sequence number between. A video frame that stays
incomplete while newer ones complete is dropped, and the assembler waits for the next
keyframe (asking the publisher for one) rather than hand a decoder a broken reference chain.
Opus packets are frames on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc.codecs import depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from relay.rtp import is_keyframe

PENDING_FRAMES = 8
"""Incomplete video frames kept waiting for a retransmission (~250 ms at 30 frames/s)."""

SDP_NAMES = {"vp8": "VP8", "h264": "H264"}

CLOCK_RATES = {"audio/opus": 48000, "video/vp8": 90000, "video/h264": 90000}


@dataclass(frozen=True)
class Frame:
    """One encoded frame, depayloaded: what a container's packet holds."""

    ssrc: int
    timestamp: int
    """RTP timestamp (the stream's clock: 90 kHz video, 48 kHz Opus)."""
    data: bytes
    keyframe: bool


@dataclass
class _Pending:
    packets: dict[int, bytes] = field(default_factory=dict)
    """Extended sequence number -> depayloaded payload."""
    first: int | None = None
    last: int | None = None

    def complete(self) -> bool:
        if self.first is None or self.last is None:
            return False
        return all(seq in self.packets for seq in range(self.first, self.last + 1))


def _starts_frame(mime: str, payload: bytes) -> bool:
    """Whether an RTP payload is the first packet of a frame (before depayloading)."""
    if not payload:
        return False
    if mime == "video/vp8":
        # Payload descriptor (RFC 7741 4.2): S bit set and partition index 0.
        return bool(payload[0] & 0x10) and payload[0] & 0x07 == 0
    if mime == "video/h264":
        nal_type = payload[0] & 0x1F
        if nal_type == 28:  # FU-A: its start bit
            return len(payload) > 1 and bool(payload[1] & 0x80)
        return True  # a single NAL unit or an aggregation packet begins with a NAL unit
    return True


class FrameAssembler:
    """Whole frames out of one publication's packets (one media kind, any SSRC)."""

    def __init__(
        self, mime: str, on_frame: Callable[[Frame], None], on_loss: Callable[[], None]
    ) -> None:
        self.mime = mime.lower()
        self.video = self.mime.startswith("video/")
        # aiortc's depayloaders go by the codec's name as SDP spells it ("VP8", "H264").
        type_, _, name = self.mime.partition("/")
        self._codec = RTCRtpCodecParameters(
            mimeType=f"{type_}/{SDP_NAMES.get(name, name)}",
            clockRate=CLOCK_RATES.get(self.mime, 90000),
            payloadType=96,
        )
        self._on_frame = on_frame
        self._on_loss = on_loss
        self._ssrc: int | None = None
        self._last_seq: int | None = None
        self._pending: dict[int, _Pending] = {}
        self._emitted_ts: int | None = None
        self._need_keyframe = True
        self.frames = 0
        self.dropped = 0

    def push(self, plain: bytes) -> None:
        """One decrypted RTP packet (bytes)."""
        try:
            packet = RtpPacket.parse(plain)
        except ValueError:
            return
        if packet.ssrc != self._ssrc:
            # A new stream (the publisher reconnected): start over from its first keyframe.
            self._ssrc = packet.ssrc
            self._last_seq = None
            self._pending.clear()
            self._emitted_ts = None
            self._need_keyframe = self.video
        seq = self._extend(packet.sequence_number)
        try:
            data = depayload(self._codec, packet.payload)
        except (ValueError, IndexError):
            return
        if not self.video:
            if data:
                self.frames += 1
                self._on_frame(Frame(packet.ssrc, packet.timestamp, data, True))
            return
        self._push_video(packet, seq, data)

    def _extend(self, sequence: int) -> int:
        """The sequence number extended beyond 16 bits (it wraps every 65536 packets)."""
        last = self._last_seq
        if last is None:
            self._last_seq = sequence
            return sequence
        candidate = (last & ~0xFFFF) | sequence
        if candidate - last > 0x8000:
            candidate -= 0x10000
        elif last - candidate > 0x8000:
            candidate += 0x10000
        self._last_seq = max(last, candidate)
        return candidate

    def _push_video(self, packet: RtpPacket, seq: int, data: bytes) -> None:
        timestamp = packet.timestamp
        if self._emitted_ts is not None and _ts_not_after(timestamp, self._emitted_ts):
            return  # a late packet of a frame already written or given up
        pending = self._pending.setdefault(timestamp, _Pending())
        pending.packets[seq] = data
        if _starts_frame(self.mime, packet.payload):
            pending.first = seq
        if packet.marker:
            pending.last = seq
        self._drain()

    def _drain(self) -> None:
        """Hand out complete frames in timestamp order; give up on a frame left too far behind."""
        while self._pending:
            oldest = min(self._pending, key=lambda ts: _ts_key(ts, self._pending))
            pending = self._pending[oldest]
            if pending.complete():
                del self._pending[oldest]
                self._emit(oldest, pending)
                continue
            if len(self._pending) <= PENDING_FRAMES:
                return
            del self._pending[oldest]
            self._emitted_ts = oldest
            self.dropped += 1
            if not self._need_keyframe:
                self._need_keyframe = True
                self._on_loss()

    def _emit(self, timestamp: int, pending: _Pending) -> None:
        assert pending.first is not None and pending.last is not None
        data = b"".join(pending.packets[seq] for seq in range(pending.first, pending.last + 1))
        self._emitted_ts = timestamp
        keyframe = is_keyframe(self.mime, data)
        if self._need_keyframe and not keyframe:
            self.dropped += 1
            self._on_loss()
            return
        self._need_keyframe = False
        self.frames += 1
        assert self._ssrc is not None
        self._on_frame(Frame(self._ssrc, timestamp, data, keyframe))


def _ts_not_after(timestamp: int, reference: int) -> bool:
    """``timestamp`` <= ``reference`` in 32-bit RTP timestamp arithmetic."""
    return ((reference - timestamp) & 0xFFFFFFFF) < 0x80000000


def _ts_key(timestamp: int, pending: dict[int, _Pending]) -> int:
    """Order pending frames by their first sequence number seen (robust to timestamp wrap)."""
    return min(pending[timestamp].packets)
