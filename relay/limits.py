"""How much one forwarded stream may hold: the relay's memory bound per stream.

Built once per manager from ``[relay]`` settings and handed down to every participant, so a
stream's retransmission history, loss window and frame queues never grow with load.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import RelaySettings


@dataclass(frozen=True, slots=True)
class StreamLimits:
    send_history_packets: int = 128
    """The most forwarded packets kept per subscriber stream for retransmissions."""
    send_history_ms: int = 300
    """How much of a stream's past its history is sized to hold (:meth:`SendHistory.fit`)."""
    nack_window_packets: int = 128
    """How far back a lost packet is asked for again."""
    video_queue_frames: int = 30
    """Frames queued per transcoded video subscriber."""
    audio_queue_frames: int = 50
    """Frames queued per transcoded audio subscriber."""
    rtcp_report_every: int = 1
    """One in this many of aiortc's RTCP sender/receiver reports goes out per stream."""

    @classmethod
    def from_settings(cls, settings: RelaySettings) -> StreamLimits:
        return cls(
            send_history_packets=settings.send_history_packets,
            send_history_ms=settings.send_history_ms,
            nack_window_packets=settings.nack_window_packets,
            video_queue_frames=settings.video_queue_frames,
            audio_queue_frames=settings.audio_queue_frames,
            rtcp_report_every=settings.rtcp_report_every,
        )

    def queue_frames(self, kind: str) -> int:
        return self.video_queue_frames if kind == "video" else self.audio_queue_frames


DEFAULT_LIMITS = StreamLimits()
