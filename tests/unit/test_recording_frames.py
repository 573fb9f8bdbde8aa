"""From RTP packets to whole frames for the recorder: order, loss, keyframes, wrap-around."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from relay.recording.frames import Frame, FrameAssembler
from relay.recording.writer import vp8_size

KEY = b"\x00\x01\x02"  # VP8: bit 0 of the first byte clear = keyframe
DELTA = b"\x01\x05\x06"


def vp8_packet(seq: int, ts: int, data: bytes, *, start: bool, marker: bool) -> bytes:
    descriptor = b"\x10" if start else b"\x00"  # S bit, partition 0
    return RtpPacket(
        payload_type=96,
        sequence_number=seq & 0xFFFF,
        timestamp=ts,
        ssrc=1234,
        marker=int(marker),
        payload=descriptor + data,
    ).serialize()


def frame_packets(seq: int, ts: int, data: bytes) -> list[bytes]:
    """A frame in two packets."""
    return [
        vp8_packet(seq, ts, data[:1], start=True, marker=False),
        vp8_packet(seq + 1, ts, data[1:], start=False, marker=True),
    ]


class Collector:
    def __init__(self, mime: str = "video/VP8") -> None:
        self.frames: list[Frame] = []
        self.losses = 0
        self.assembler = FrameAssembler(mime, self.frames.append, self._lost)

    def _lost(self) -> None:
        self.losses += 1

    def push(self, *packets: bytes) -> None:
        for packet in packets:
            self.assembler.push(packet)


def test_a_frame_in_packets_comes_out_whole_even_out_of_order() -> None:
    got = Collector()
    first, second = frame_packets(10, 3000, KEY)
    got.push(second, first)
    assert [(f.timestamp, f.data, f.keyframe) for f in got.frames] == [(3000, KEY, True)]
    got.push(*frame_packets(12, 6000, DELTA))
    assert [f.data for f in got.frames] == [KEY, DELTA]
    assert got.frames[1].keyframe is False


def test_the_recording_starts_at_a_keyframe() -> None:
    got = Collector()
    got.push(*frame_packets(1, 3000, DELTA))
    assert got.frames == [] and got.losses == 1
    got.push(*frame_packets(3, 6000, KEY), *frame_packets(5, 9000, DELTA))
    assert [f.timestamp for f in got.frames] == [6000, 9000]


def test_a_frame_missing_a_packet_is_dropped_and_the_next_keyframe_awaited() -> None:
    got = Collector()
    got.push(*frame_packets(1, 3000, KEY))
    got.push(frame_packets(3, 6000, DELTA)[0])  # its second packet never comes
    seq, ts = 5, 9000
    for _ in range(10):  # newer frames complete meanwhile, but depend on the lost one
        got.push(*frame_packets(seq, ts, DELTA))
        seq, ts = seq + 2, ts + 3000
    assert [f.timestamp for f in got.frames] == [3000]
    assert got.losses >= 1
    got.push(*frame_packets(seq, ts, KEY))
    assert got.frames[-1].timestamp == ts and got.frames[-1].keyframe


def test_sequence_numbers_wrap_around() -> None:
    got = Collector()
    got.push(*frame_packets(0xFFFF, 3000, KEY))  # 65535, then 0
    got.push(*frame_packets(1, 6000, DELTA))
    assert [f.timestamp for f in got.frames] == [3000, 6000]
    assert got.frames[0].data == KEY


def test_opus_packets_are_frames_of_their_own() -> None:
    got = Collector("audio/opus")
    for seq in range(3):
        packet = RtpPacket(
            payload_type=111, sequence_number=seq, timestamp=960 * seq, ssrc=9, payload=b"op"
        )
        got.push(packet.serialize())
    assert [f.timestamp for f in got.frames] == [0, 960, 1920]


def test_the_picture_size_comes_from_a_vp8_keyframe_header() -> None:
    header = b"\x00\x00\x00" + b"\x9d\x01\x2a" + (1280).to_bytes(2, "little")
    assert vp8_size(header + (720).to_bytes(2, "little")) == (1280, 720)
    assert vp8_size(b"\x01\x02") is None
