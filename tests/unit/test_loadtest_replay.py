"""The load tester's replay media mode: media encoded once and replayed, and frames counted
from RTP without decoding, between two real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from bench.media import PacketLoopTrack as BenchPacketLoopTrack
from bench.media import loopback_only
from loadtest.loop_lag import LagProbe
from loadtest.options import SESSIONS_PER_PROCESS, Options
from loadtest.replay import (
    OpusLoopTrack,
    PacketLoopTrack,
    encode_opus_loop,
    encode_vp8_loop,
    replay_bitrate,
)
from loadtest.rtp_count import RtpFrameCounter, SsrcCounts, counting_supported
from loadtest.workers import worker_args


def test_the_relay_bench_replays_the_same_clip_class() -> None:
    assert BenchPacketLoopTrack is PacketLoopTrack


def test_a_vp8_clip_is_encoded_once_and_starts_with_a_keyframe() -> None:
    clip = encode_vp8_loop(160, 120, frames=6, bitrate=replay_bitrate(160, 120, 15), fps=15)
    assert len(clip) == 6 and all(clip)
    assert not clip[0][0] & 0x01  # VP8 keyframe flag (0 = key)
    assert clip[1][0] & 0x01
    assert encode_vp8_loop(160, 120, frames=6, bitrate=100_000, fps=15) == clip  # cached


async def test_replayed_tracks_pace_and_rewrite_timestamps() -> None:
    video = PacketLoopTrack(encode_vp8_loop(160, 120, frames=3, bitrate=100_000, fps=15), 30)
    started = time.monotonic()
    packets = [await video.recv() for _ in range(8)]
    assert time.monotonic() - started >= 7 / 30 * 0.9  # paced, not as fast as possible
    assert [p.pts for p in packets[:4]] == [0, 3000, 6000, 9000]  # the loop continues the clock
    assert bytes(packets[3]) == bytes(packets[0])
    audio = OpusLoopTrack(encode_opus_loop(packets=5))
    first, second = await audio.recv(), await audio.recv()
    assert isinstance(first, av.Packet) and (first.pts, second.pts) == (0, 960)
    longer = OpusLoopTrack(encode_opus_loop(packets=3, packet_ms=60), 60)
    assert [(await longer.recv()).pts for _ in range(2)] == [0, 2880]
    longer.stop()
    video.stop()
    audio.stop()


@dataclass
class _Packet:
    sequence_number: int
    timestamp: int
    payload_type: int = 96
    ssrc: int = 1
    marker: int = 1


def test_sequence_numbers_give_loss_across_the_wrap() -> None:
    stream = SsrcCounts(65533, 90_000)
    for seq in (65533, 65534, 65535, 0, 1, 65535):  # the last one a late duplicate
        stream.add(seq, 0)
    assert (stream.received, stream.max_seq, stream.cycles) == (6, 1, 65536)
    stream.add(4, 0)  # 2 and 3 lost; the duplicate makes up for one (as RFC 3550 counts)
    assert stream.lost == 1
    stream.add(5, 0x100000000 - 10)  # the RTP timestamp wrapped: a 10-tick change, not 2**32
    assert stream.jitter == 10 / 16


async def test_frames_are_counted_from_markers_and_retransmissions_ignored() -> None:
    sdp = "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:111 opus/48000/2\r\n"
    first = asyncio.Event()

    class Receiver:
        pass

    receiver = Receiver()
    counter = RtpFrameCounter(receiver, "video", lambda: sdp, first)
    hook = receiver._handle_rtp_packet  # type: ignore[attr-defined]
    await hook(_Packet(1, 0, marker=0), arrival_time_ms=1000)
    assert counter.frames == 0 and not first.is_set()
    await hook(_Packet(2, 0), arrival_time_ms=1000)
    await hook(_Packet(3, 0, payload_type=97), arrival_time_ms=1000)  # rtx
    await hook(_Packet(5, 3000), arrival_time_ms=1040)  # seq 4 lost; 3000 ticks = 33 ms
    assert counter.frames == 2 and first.is_set()
    assert (counter.packets_received, counter.packets_lost) == (3, 2)
    # RFC 3550: D = 40 ms - 33.3 ms of transit change, jitter moves by |D| / 16
    assert counter.jitter_ms == pytest.approx((40 - 100 / 3) / 16, abs=0.01)


def frames_of(counters: list[RtpFrameCounter], kind: str) -> int:
    return sum(c.frames for c in counters if c.kind == kind)


@pytest.mark.timeout(60)
async def test_two_peers_exchange_replayed_media_counted_without_decoding() -> None:
    assert counting_supported()
    with loopback_only():
        sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        clip = encode_vp8_loop(160, 120, frames=30, bitrate=100_000, fps=15)
        sender.addTrack(OpusLoopTrack(encode_opus_loop()))
        sender.addTrack(PacketLoopTrack(clip, 15))
        counters: list[RtpFrameCounter] = []
        first = asyncio.Event()

        def remote_sdp() -> str:
            return receiver.remoteDescription.sdp

        @receiver.on("track")
        def on_track(track: object) -> None:
            kind = getattr(track, "kind", "")
            found = [t.receiver for t in receiver.getTransceivers() if t.receiver.track is track]
            event = first if kind == "video" else None
            counters.append(RtpFrameCounter(found[0], kind, remote_sdp, event))

        try:
            await sender.setLocalDescription(await sender.createOffer())
            await receiver.setRemoteDescription(sender.localDescription)
            await receiver.setLocalDescription(await receiver.createAnswer())
            await sender.setRemoteDescription(receiver.localDescription)
            await asyncio.wait_for(first.wait(), 20)
            # About a second of media (15 video frames, 50 audio packets at the loops' pace);
            # how long that takes on a loaded machine is not what is tested.
            deadline = asyncio.get_running_loop().time() + 20
            while not (frames_of(counters, "video") >= 5 and frames_of(counters, "audio") >= 20):
                assert asyncio.get_running_loop().time() < deadline, [
                    (c.kind, c.frames) for c in counters
                ]
                await asyncio.sleep(0.05)
        finally:
            await sender.close()
            await receiver.close()
    video = next(c for c in counters if c.kind == "video")
    audio = next(c for c in counters if c.kind == "audio")
    assert video.frames >= 5 and audio.frames >= 20
    assert video.packets_received >= video.frames and video.packets_lost == 0
    assert (video.width, video.height) == (0, 0)  # never decoded


def test_media_mode_and_automatic_processes() -> None:
    assert Options(url="http://x").media == "replay"
    with pytest.raises(ValueError, match="audio_packet_ms"):
        Options(url="http://x", audio_packet_ms=30).validate()
    with pytest.raises(ValueError, match="media"):
        Options(url="http://x", media="mpeg").validate()  # type: ignore[arg-type]
    assert Options(url="http://x", sessions=3).process_count == 1
    many = Options(url="http://x", sessions=SESSIONS_PER_PROCESS * 10)
    assert 1 <= many.process_count <= 10
    assert Options(url="http://x", sessions=50, processes=3).process_count == 3
    args = worker_args(Options(url="http://x", audio_packet_ms=60), 0, 1, 0, "/tmp/w")
    assert args[args.index("--media") + 1] == "replay"
    assert args[args.index("--audio-packet-ms") + 1] == "60"
    assert args[args.index("--processes") + 1] == "1"


async def test_the_lag_probe_reports_a_blocked_loop_once() -> None:
    probe, stop = LagProbe(), asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    await asyncio.sleep(0.01)
    time.sleep(0.3)  # the loop is blocked: the probe's sleep overshoots by about this much
    await asyncio.sleep(0.1)
    assert probe.take_worst_ms() >= 200
    assert probe.take_worst_ms() < 200  # taken: the next interval starts afresh
    stop.set()
    await task
