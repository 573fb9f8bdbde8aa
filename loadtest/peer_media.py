"""What a load-test peer sends and how it counts what it receives, for either media mode.

``replay``: a clip encoded once and replayed (:mod:`loadtest.replay`), received frames
counted from RTP (:mod:`loadtest.rtp_count`). ``synthetic``: pictures and a tone encoded live
(:mod:`loadtest.media`), every received frame decoded. Shared by :class:`loadtest.peer.Peer`
and the media benchmark, so both measure the same work.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection

from loadtest.media import ReceivedTrack, SyntheticAudioTrack, SyntheticVideoTrack
from loadtest.peer_figures import MediaOptions
from loadtest.replay import (
    OpusLoopTrack,
    PacketLoopTrack,
    encode_opus_loop,
    encode_vp8_loop,
    replay_bitrate,
)
from loadtest.rtp_count import RtpFrameCounter, counting_supported

Received = ReceivedTrack | RtpFrameCounter

CLIP_SECONDS = 2
"""Length of the replayed clip: a keyframe that often lets a late watcher see a picture soon."""


def add_media(pc: RTCPeerConnection, media: MediaOptions) -> None:
    """Give ``pc`` the audio (when asked) and video tracks ``media`` describes."""
    if media.mode == "replay":
        if media.audio:
            packet_ms = media.audio_packet_ms
            packets = encode_opus_loop(packets=1000 // packet_ms, packet_ms=packet_ms)
            pc.addTrack(OpusLoopTrack(packets, packet_ms))
        clip = encode_vp8_loop(
            media.width,
            media.height,
            frames=CLIP_SECONDS * media.fps,
            bitrate=replay_bitrate(media.width, media.height, media.fps),
            fps=media.fps,
        )
        pc.addTrack(PacketLoopTrack(clip, media.fps))
    else:
        if media.audio:
            pc.addTrack(SyntheticAudioTrack())
        pc.addTrack(SyntheticVideoTrack(media.width, media.height, media.fps))


def watch_remote_tracks(
    pc: RTCPeerConnection,
    media: MediaOptions,
    received: list[Received],
    first_video_frame: asyncio.Event,
) -> None:
    """Append a counter to ``received`` for every remote track ``pc`` announces; set
    ``first_video_frame`` when the first remote video frame arrives."""
    count = media.mode == "replay" and counting_supported()

    def remote_sdp() -> str:
        description = pc.remoteDescription
        return description.sdp if description is not None else ""

    @pc.on("track")
    def on_track(track: Any) -> None:
        first = first_video_frame if track.kind == "video" else None
        receiver = next(
            (t.receiver for t in pc.getTransceivers() if t.receiver.track is track), None
        )
        if count and receiver is not None:
            received.append(RtpFrameCounter(receiver, track.kind, remote_sdp, first))
        else:
            received.append(ReceivedTrack(track, first))
