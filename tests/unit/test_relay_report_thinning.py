"""The relay's own RTCP reports go out less often; feedback never waits."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
)

from relay import compat


class Leg:
    """Stands in for aiortc's sender or receiver: records what reaches the transport."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def _send_rtcp(self, packets: Any) -> None:
        self.sent.append(packets)


def receiver_report() -> RtcpRrPacket:
    info = RtcpReceiverInfo(
        ssrc=1, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=0, lsr=0, dlsr=0
    )
    return RtcpRrPacket(ssrc=2, reports=[info])


def sender_report() -> list[Any]:
    info = RtcpSenderInfo(ntp_timestamp=1, rtp_timestamp=2, packet_count=3, octet_count=4)
    return [RtcpSrPacket(ssrc=1, sender_info=info), RtcpSdesPacket()]


def test_one_report_in_n_goes_after_the_first_two_and_feedback_always_goes() -> None:
    sender, receiver = Leg(), Leg()
    compat.thin_reports(cast(RTCRtpSender, sender), cast(RTCRtpReceiver, receiver), 5)
    pli = RtcpPsfbPacket(fmt=1, ssrc=2, media_ssrc=1)

    async def run() -> None:
        for _ in range(12):
            await sender._send_rtcp(sender_report())
            await receiver._send_rtcp(receiver_report())
            await receiver._send_rtcp(pli)
        await sender._send_rtcp([RtcpByePacket(sources=[1])])

    asyncio.run(run())
    reports = [packet for packet in receiver.sent if isinstance(packet, RtcpRrPacket)]
    assert len(reports) == 2 + 2  # the first two, then the 5th and 10th after them
    assert sum(packet is pli for packet in receiver.sent) == 12
    sender_reports = [p for p in sender.sent if isinstance(p[0], RtcpSrPacket)]
    assert len(sender_reports) == 4
    assert isinstance(sender.sent[-1][0], RtcpByePacket)


def test_every_report_goes_when_asked_to_keep_all() -> None:
    sender, receiver = Leg(), Leg()
    compat.thin_reports(cast(RTCRtpSender, sender), cast(RTCRtpReceiver, receiver), 1)

    async def run() -> None:
        for _ in range(6):
            await receiver._send_rtcp(receiver_report())

    asyncio.run(run())
    assert len(receiver.sent) == 6
