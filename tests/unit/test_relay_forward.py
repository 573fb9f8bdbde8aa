"""The forwarding pieces on their own: keyframe detection, gating, bounded queues, the hook."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any, cast

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from bench.media import draw, encode_vp8, make_vp8_encoder
from config.settings import RelaySettings
from relay.compat import is_tapped, tap_receiver
from relay.counters import Counters
from relay.errors import BadOffer, RelayFull
from relay.manager import RelayManager
from relay.nack import NACK_WINDOW, LossTracker
from relay.publication import Publication
from relay.rtp import is_keyframe, one_byte_extension, rtp_layout
from relay.track import AUDIO_QUEUE_FRAMES, VIDEO_QUEUE_FRAMES, EncodedFrame, ForwardTrack


def vp8_frames(count: int) -> list[bytes]:
    codec = make_vp8_encoder(64, 48, 100_000)
    return [encode_vp8(codec, draw(64, 48, (10, 20, 30), i), i, i == 0) for i in range(count)]


def frame(kind: str, timestamp: int, keyframe: bool, data: bytes = b"\x01") -> EncodedFrame:
    mime, rate = ("video/VP8", 90000) if kind == "video" else ("audio/opus", 48000)
    return EncodedFrame(mime, rate, data, timestamp, keyframe, codec=None)


def test_vp8_keyframes_are_recognised_from_real_encoder_output() -> None:
    frames = vp8_frames(3)
    assert [is_keyframe("video/VP8", data) for data in frames] == [True, False, False]
    assert not is_keyframe("video/VP8", b"")


def test_h264_keyframes_are_idr_or_sps() -> None:
    sps = b"\x00\x00\x00\x01\x67\x42"
    idr = b"\x00\x00\x01\x65\x88"
    non_idr = b"\x00\x00\x00\x01\x41\x9a"
    assert is_keyframe("video/H264", sps + idr)
    assert is_keyframe("video/H264", idr)
    assert not is_keyframe("video/H264", non_idr)
    assert not is_keyframe("video/H264", b"\x00\x00\x01")


def test_audio_frames_always_count_as_keyframes() -> None:
    assert is_keyframe("audio/opus", b"\xfc")


async def test_video_is_gated_until_a_keyframe() -> None:
    counters = Counters()
    track = ForwardTrack("video", counters)
    track.push(frame("video", 0, keyframe=False))
    track.push(frame("video", 3000, keyframe=True, data=b"key"))
    track.push(frame("video", 6000, keyframe=False, data=b"delta"))
    first = await track.recv()
    second = await track.recv()
    assert isinstance(first, av.Packet)
    assert (bytes(first), first.pts, first.time_base) == (b"key", 3000, Fraction(1, 90000))
    assert isinstance(second, av.Packet)
    assert bytes(second) == b"delta"
    assert counters.frames_dropped == 1
    assert counters.frames_forwarded == 2
    track.stop()


async def test_video_overflow_drops_until_the_next_keyframe() -> None:
    track = ForwardTrack("video", Counters())
    track.push(frame("video", 0, keyframe=True))
    for i in range(1, VIDEO_QUEUE_FRAMES + 5):
        track.push(frame("video", i * 3000, keyframe=False))
    # the queue was full: everything queued is dropped and the track waits for a keyframe
    track.push(frame("video", 999_000, keyframe=True, data=b"fresh"))
    packet = await track.recv()
    assert isinstance(packet, av.Packet)
    assert bytes(packet) == b"fresh"
    assert track.dropped >= VIDEO_QUEUE_FRAMES
    track.stop()


async def test_audio_overflow_drops_the_oldest() -> None:
    track = ForwardTrack("audio", Counters())
    for i in range(AUDIO_QUEUE_FRAMES + 3):
        track.push(frame("audio", i * 960, keyframe=True))
    packet = await track.recv()
    assert packet.pts == 3 * 960
    assert track.dropped == 3
    track.stop()


async def test_a_new_publisher_continues_the_timeline() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    first = Publication("audio", pc.addTransceiver("audio").receiver, Counters())
    second = Publication("audio", pc.addTransceiver("audio").receiver, Counters())
    track = ForwardTrack("audio", Counters())
    track.attach(first)
    track.push(frame("audio", 96_000, keyframe=True))
    assert (await track.recv()).pts == 96_000
    track.attach(second)  # e.g. the other participant reconnected: its clock starts at 0
    track.push(frame("audio", 0, keyframe=True))
    assert (await track.recv()).pts == 96_000 + 960
    assert first.subscribers == 0 and second.subscribers == 1
    track.stop()
    assert second.subscribers == 0
    await pc.close()


async def test_stopped_track_ends_recv() -> None:
    track = ForwardTrack("video", Counters())
    waiting = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiting


async def test_receiver_hook_replaces_the_decoder_queue_of_one_receiver_only() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tapped = pc.addTransceiver("video").receiver
    plain = pc.addTransceiver("video").receiver
    seen: list[bytes] = []
    tap_receiver(tapped, lambda codec, jitter_frame: seen.append(jitter_frame.data))
    assert is_tapped(tapped) and not is_tapped(plain)
    # aiortc hands complete frames to the queue as (codec, frame): they reach us instead
    codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    internals: Any = tapped
    internals._RTCRtpReceiver__decoder_queue.put((codec, JitterFrame(b"vp8", 0)))
    assert seen == [b"vp8"]
    with pytest.raises(RuntimeError):
        tap_receiver(cast(RTCRtpReceiver, object()), lambda codec, jitter_frame: None)
    await pc.close()


async def test_capacity_limit_raises_relay_full() -> None:
    manager = RelayManager(RelaySettings(max_sessions=0), [])
    with pytest.raises(RelayFull):
        await manager.answer("s", "alice", "v=0\r\n")
    with pytest.raises(BadOffer):
        await manager.answer("s", "alice", "v=0\r\n", "answer")
    assert manager.stats()["sessions"] == 0
    await manager.close()


@pytest.mark.parametrize(
    "plain",
    [
        b"\x80\x60\x00\x01",  # shorter than the fixed header
        b"\x82\x60" + bytes(10),  # announces 2 CSRCs, has none
        b"\x90\x60" + bytes(10),  # announces an extension, has no extension header
        b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x05" + bytes(4),  # 5 words announced, 1 there
    ],
    ids=["fixed-header", "csrc-list", "extension-header", "extension-words"],
)
def test_the_fast_path_refuses_packets_shorter_than_their_header(plain: bytes) -> None:
    with pytest.raises(ValueError):
        rtp_layout(plain)


def test_the_fast_path_finds_payload_and_extensions() -> None:
    header = b"\x90\xe0\x00\x07" + (90000).to_bytes(4, "big") + (1234).to_bytes(4, "big")
    block = bytes([0x10, 0x31, 0x22, 0xAB, 0xCD, 0xEF, 0x00, 0x00])  # mid "1", id 2: 3 bytes
    plain = header + b"\xbe\xde\x00\x02" + block + b"payload"
    payload_at, profile, found = rtp_layout(plain)
    assert plain[payload_at:] == b"payload"
    assert profile == 0xBEDE
    assert one_byte_extension(found, 1) == b"1"
    assert one_byte_extension(found, 2) == b"\xab\xcd\xef"
    assert one_byte_extension(found, 3) is None


def test_loss_tracker_reports_gaps_and_forgets_what_arrived() -> None:
    tracker = LossTracker()
    assert not tracker.add(65533)
    assert not tracker.add(65534)
    assert tracker.add(1)  # 65535 and 0 are missing, across the wrap
    assert tracker.missing == {65535, 0}
    assert not tracker.add(0)  # a retransmission
    assert tracker.missing == {65535}
    assert not tracker.add(2)
    assert not tracker.add(1)  # a duplicate changes nothing
    assert tracker.missing == {65535}


def test_loss_tracker_asks_only_for_what_a_sender_still_has() -> None:
    tracker = LossTracker()
    tracker.add(100)
    assert tracker.add(100 + 1000)  # a long outage
    assert len(tracker.missing) == NACK_WINDOW
    assert min(tracker.missing) == 1100 - NACK_WINDOW
    tracker.add(1101 + NACK_WINDOW)  # everything missing is now too old
    assert all((1101 + NACK_WINDOW - value) & 0xFFFF <= NACK_WINDOW for value in tracker.missing)
