"""Counting received media without decoding it: the ``replay`` media mode's receiving side.

aiortc hands every incoming RTP packet to its receiver's ``_handle_rtp_packet``, which
reassembles frames, decodes them in a thread and keeps the receiver statistics. A load
generator only needs to know that frames arrive, so :class:`RtpFrameCounter` takes that
method's place on one receiver (per instance) and counts: a video frame is a packet with the
marker bit set (a frame's last packet), an audio frame is a packet. It keeps the figures the
decoding path would give the report - packets received and lost (from sequence numbers) and
interarrival jitter (RFC 3550, section 6.4.1) - at the cost of a few additions per packet.

``_handle_rtp_packet`` is aiortc's private name, and the only one the load tester uses:
:func:`counting_supported` says whether the installed aiortc still has it (otherwise the
replay mode decodes what it receives, like the synthetic mode).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver

from loadtest.media import FrameTally

RECEIVER_HOOK = "_handle_rtp_packet"
_RTX = re.compile(r"a=rtpmap:(\d+) rtx/", re.IGNORECASE)
_CLOCK = re.compile(r"a=rtpmap:(\d+) [\w-]+/(\d+)", re.IGNORECASE)


def counting_supported() -> bool:
    return callable(getattr(RTCRtpReceiver, RECEIVER_HOOK, None))


def _clock_rates(sdp: str) -> tuple[dict[int, int], set[int]]:
    """Payload type -> clock rate, and the retransmission (rtx) payload types."""
    rtx = {int(pt) for pt in _RTX.findall(sdp)}
    rates = {int(pt): int(rate) for pt, rate in _CLOCK.findall(sdp) if int(pt) not in rtx}
    return rates, rtx


class SsrcCounts:
    """Sequence and jitter bookkeeping of one SSRC."""

    __slots__ = ("base_seq", "clock_rate", "cycles", "jitter", "max_seq", "received", "transit")

    def __init__(self, seq: int, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.base_seq = seq
        self.max_seq = seq
        self.cycles = 0
        self.received = 0
        self.jitter = 0.0
        self.transit: int | None = None

    def add(self, seq: int, transit: int) -> None:
        self.received += 1
        delta = (seq - self.max_seq) & 0xFFFF
        if 0 < delta < 0x8000:
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
        if self.transit is not None:
            # RTP timestamps wrap at 2**32: take the change modulo that, as a signed number
            change = (transit - self.transit + 0x80000000) % 0x100000000 - 0x80000000
            self.jitter += (abs(change) - self.jitter) / 16
        self.transit = transit

    @property
    def lost(self) -> int:
        expected = self.cycles + self.max_seq - self.base_seq + 1
        return max(0, expected - self.received)


class RtpFrameCounter(FrameTally):
    """Counts the frames arriving on one receiver, in place of decoding them.

    Offers what :class:`loadtest.media.ReceivedTrack` offers (``kind``, ``frames``,
    ``first_frame_at``, ``last_frame_at``, ``width``, ``height``, :meth:`stop`) plus packet
    counts, loss and jitter.
    """

    def __init__(
        self,
        receiver: Any,
        kind: str,
        remote_sdp: Callable[[], str],
        first_frame: asyncio.Event | None,
    ) -> None:
        super().__init__(kind, first_frame)  # width and height stay 0: unknown without decoding
        self._remote_sdp = remote_sdp
        self._parsed_sdp = ""
        self._rates: dict[int, int] = {}
        self._rtx: set[int] = set()
        self._streams: dict[int, SsrcCounts] = {}
        setattr(receiver, RECEIVER_HOOK, self._on_packet)

    async def _on_packet(self, packet: Any, arrival_time_ms: int) -> None:
        payload_type = packet.payload_type
        if payload_type in self._rtx:
            return  # a retransmission is no new frame
        rate = self._rates.get(payload_type)
        if rate is None:
            # aiortc announces the track before it stores the remote description, so the
            # payload types are read on the first packet (and again if the SDP changed).
            sdp = self._remote_sdp()
            if sdp == self._parsed_sdp:
                return
            self._parsed_sdp = sdp
            self._rates, self._rtx = _clock_rates(sdp)
            rate = self._rates.get(payload_type)
            if rate is None or payload_type in self._rtx:
                return
        stream = self._streams.get(packet.ssrc)
        if stream is None:
            stream = self._streams[packet.ssrc] = SsrcCounts(packet.sequence_number, rate)
        stream.add(packet.sequence_number, arrival_time_ms * rate // 1000 - packet.timestamp)
        if self.kind == "video" and not packet.marker:
            return
        self._frame_arrived()

    @property
    def packets_received(self) -> int:
        return sum(s.received for s in self._streams.values())

    @property
    def packets_lost(self) -> int:
        return sum(s.lost for s in self._streams.values())

    @property
    def jitter_ms(self) -> float:
        """The largest stream's jitter, in milliseconds."""
        return max((s.jitter * 1000 / s.clock_rate for s in self._streams.values()), default=0.0)

    async def stop(self) -> None:
        """Nothing runs in the background: packets arrive as calls."""
