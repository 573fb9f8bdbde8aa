"""A publisher's packet rewritten as a subscriber's stream, and that stream's feedback.

The relay terminates DTLS-SRTP on both legs, so a packet from the publisher reaches
:class:`PacketOutlet` decrypted, as bytes. The outlet rewrites it as a packet of the
subscriber's sender: its SSRC, its negotiated payload type, its MID, its own
sequence numbers and timestamps (the publisher's shifted by a fixed offset, so gaps and
reordering survive and a NACK names the same packet on both legs), a fresh abs-send-time,
and the audio level the publisher measured. The packet goes into the stream's bounded
retransmission history (:class:`relay.history.SendHistory`, from which aiortc answers the
subscriber's NACKs), and into the sender's counters, so its RTCP sender reports stay true.
Then it is encrypted with the subscriber's keys and sent.
Nothing is depayloaded, reassembled, jitter-buffered or repacketised.

The subscriber's PLI/FIR and REMB for that sender go back to the publisher
(:func:`hook_sender_feedback`).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Awaitable, Callable

import pylibsrtp
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtpPacket,
    unpack_remb_fci,
)

from relay import compat
from relay.compat import SenderInternals, extension_ids, is_connected, sending_route
from relay.history import SendHistory
from relay.rtp import HEADER
from relay.srtp import PacketCipher, Transform
from relay.udpbatch import FrameBatch

_WORD = struct.Struct("!I")
"""An abs-send-time element: its one-byte header and 24-bit value fill exactly one word."""

START_WINDOW = 0x1000
"""For this many sequence numbers after a (re)start, packets from before it are dropped."""

SENT, SKIPPED, NOT_CONNECTED = 0, 1, 2
"""What :meth:`PacketOutlet.forward_bytes` did with a packet."""


class ForwardedPacket:
    """A sent packet kept in a sender's history, parsed only if the subscriber NACKs it."""

    __slots__ = ("_data", "_extensions", "_parsed", "sequence_number")

    def __init__(self, sequence_number: int, data: bytes, extensions: HeaderExtensionsMap) -> None:
        self.sequence_number = sequence_number
        self._data = data
        self._extensions = extensions
        self._parsed: RtpPacket | None = None

    def _packet(self) -> RtpPacket:
        if self._parsed is None:
            self._parsed = RtpPacket.parse(self._data, self._extensions)
        return self._parsed

    def serialize(self, extensions_map: HeaderExtensionsMap | None = None) -> bytes:
        return self._data

    def __getattr__(self, name: str) -> object:
        return getattr(self._packet(), name)


class PacketOutlet:
    """Writes forwarded packets as the stream of one aiortc ``RTCRtpSender``.

    Uses the sender's private history, extension map, MID and report counters through
    :class:`relay.compat.SenderInternals`. ``payload_type`` is set once the sender's codec
    is negotiated.
    """

    def __init__(self, sender: RTCRtpSender, clock_step: int, history_packets: int = 128) -> None:
        self.sender = sender
        self._internals = SenderInternals(sender)
        self._record_sent = self._internals.record_sent
        self.ssrc = self._internals.ssrc
        self.payload_type: int | None = None
        self.history = SendHistory(history_packets)
        self._extensions = self._internals.extensions
        self._clock_step = clock_step
        """One frame (video) or one 20 ms packet (audio) in RTP clock units: the gap left
        between two publishers' timelines."""
        self._next_seq = random.getrandbits(16)
        self._next_ts = random.getrandbits(32)
        self._last_seq: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._start: int | None = None
        self._restart = True
        self.packets = 0
        self.octets = 0
        self._layout: _Layout | None = None
        self._pair: object = None
        self._srtp: pylibsrtp.Session | None = None
        self._protect: Transform = _no_session
        self._batch = FrameBatch(_NotConnected(), ("", 0))
        self._video = sender.kind == "video"
        compat.serve_retransmissions(sender, self._retransmittable)

    def _retransmittable(self, sequence: int) -> ForwardedPacket | None:
        data = self.history.find(sequence)
        return None if data is None else ForwardedPacket(sequence, data, self._extensions)

    def restart(self) -> None:
        """The next packet begins a new run (another publisher, or after a keyframe gate)."""
        self._restart = True

    def _map(self, sequence: int, timestamp: int) -> tuple[int, int] | None:
        """This sender's sequence number and timestamp for a publisher's packet, or None
        for a packet from before the current run (a late retransmission)."""
        if self._restart:
            self._restart = False
            self._seq_offset = (self._next_seq - sequence) & 0xFFFF
            self._ts_offset = (self._next_ts - timestamp) & 0xFFFFFFFF
            self._start = sequence
        elif self._start is not None:
            since_start = (sequence - self._start) & 0xFFFF
            if since_start >= 0x8000:
                return None
            if since_start > START_WINDOW:
                self._start = None
        out_seq = (sequence + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
        last = self._last_seq
        if last is None or (out_seq - last) & 0xFFFF < 0x8000:
            self._last_seq = out_seq
            self._next_seq = (out_seq + 1) & 0xFFFF
            self._next_ts = (out_ts + self._clock_step) & 0xFFFFFFFF
        return out_seq, out_ts

    def ready(self) -> bool:
        """Whether the subscriber's transport is up and aiortc has started the sender."""
        if self.payload_type is None or self._internals.mid() is None:
            return False
        return is_connected(self.sender.transport)

    def _extension_layout(self) -> _Layout | None:
        """How this sender's header extensions are written, once it is negotiated."""
        if self._layout is None:
            mid = self._internals.mid()
            if mid is None:
                return None
            ids = extension_ids(self._extensions)
            self._layout = _Layout(str(mid).encode(), ids.mid, ids.abs_send_time, ids.audio_level)
        return self._layout

    def forward_bytes(
        self, plain: bytes, payload_at: int, audio_level: bytes | None, ntp: int
    ) -> int:
        """Rewrite, store, encrypt and send one packet (no objects, no await): SENT, SKIPPED
        (from before this run, or the sender is not negotiated) or NOT_CONNECTED.

        ``plain`` is the publisher's decrypted packet, its payload (and any padding) from
        ``payload_at``; ``audio_level`` the value of its audio-level extension, if any.
        """
        payload_type = self.payload_type
        if payload_type is None:
            return SKIPPED
        route = sending_route(self.sender.transport)
        if route is None:
            return NOT_CONNECTED
        layout = self._layout or self._extension_layout()
        if layout is None:  # connected, but aiortc has not started the sender yet
            return NOT_CONNECTED
        srtp, pair = route
        if srtp is not self._srtp:  # bound once per outbound session
            self._srtp = srtp
            self._protect = PacketCipher(srtp).protect
        first, second, sequence, timestamp, _ = HEADER.unpack_from(plain)
        if self._restart or self._start is not None:  # the first packets of a run
            mapped = self._map(sequence, timestamp)
            if mapped is None:
                return SKIPPED
            out_seq, out_ts = mapped
        else:  # _map's steady state, inline: it runs for every forwarded packet
            out_seq = (sequence + self._seq_offset) & 0xFFFF
            out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
            if (out_seq - self._last_seq) & 0xFFFF < 0x8000:
                self._last_seq = out_seq
                self._next_seq = (out_seq + 1) & 0xFFFF
                self._next_ts = (out_ts + self._clock_step) & 0xFFFFFFFF
        csrc_count = first & 0x0F
        if audio_level is not None and layout.level_id:
            extension = layout.with_level
            level = layout.level_prefix + audio_level[:1]
        else:
            extension = layout.plain
            level = b""
        header = HEADER.pack(
            0x80 | (first & 0x20) | (0x10 if extension else 0) | csrc_count,
            (second & 0x80) | payload_type,
            out_seq,
            out_ts,
            self.ssrc,
        )
        parts: list[bytes | memoryview] = [header]
        if csrc_count:
            parts.append(plain[12 : 12 + 4 * csrc_count])
        if extension:
            parts.append(extension[0])
            if layout.abs_id:
                parts.append(_WORD.pack(layout.abs_word | ((ntp >> 14) & 0xFFFFFF)))
            parts.append(level)
            parts.append(extension[1])
        parts.append(memoryview(plain)[payload_at:])
        out = b"".join(parts)
        history = self.history
        history.packets[out_seq % history.size] = out
        protected = self._protect(out)
        if protected is None:
            return SKIPPED
        # What aioice's send_data does; through TURN the transport wraps it in ChannelData.
        if pair is not self._pair:  # the nominated pair rarely changes: look it up once
            self._pair = pair
            self._batch.flush()
            self._batch.close()
            self._batch = FrameBatch(pair.protocol.transport, pair.remote_addr)
        # Video a frame at a time (relay.udpbatch); audio is one packet per frame anyway.
        self._batch.send(protected, not self._video or second & 0x80 != 0)
        size = len(plain) - payload_at
        self.packets += 1
        self.octets += size
        self._record_sent(size, out_ts, ntp)  # keeps the sender's RTCP sender reports true
        return SENT


class _NotConnected:
    """The transport of an outlet with no candidate pair yet (never sent to)."""

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        raise RuntimeError("no candidate pair yet")

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def _no_session(packet: bytes) -> bytes | None:
    return None


class _Layout:
    """A negotiated sender's one-byte header extensions (RFC 8285), written per packet as
    ``extension[0]`` (profile, length, MID element), the abs-send-time word, the audio level
    element, then ``extension[1]`` (padding)."""

    __slots__ = ("abs_id", "abs_word", "level_id", "level_prefix", "plain", "with_level")

    def __init__(self, mid: bytes, mid_id: int, abs_id: int, level_id: int) -> None:
        self.abs_id = abs_id
        self.abs_word = ((abs_id << 4) | 2) << 24
        self.level_id = level_id
        self.level_prefix = bytes([level_id << 4]) if level_id else b""
        mid_element = b""
        if mid_id and 0 < len(mid) <= 16 and mid_id < 15:
            mid_element = bytes([(mid_id << 4) | (len(mid) - 1)]) + mid
        self.plain = self._frame(mid_element, 4 if abs_id else 0)
        self.with_level = self._frame(mid_element, (4 if abs_id else 0) + 2)

    @staticmethod
    def _frame(mid_element: bytes, more: int) -> tuple[bytes, bytes] | None:
        size = len(mid_element) + more
        if not size:
            return None
        padding = -size % 4
        words = (size + padding) // 4
        return b"\xbe\xde" + words.to_bytes(2, "big") + mid_element, b"\x00" * padding


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
