"""What a load-test peer is given and what it measures: media options, failure, timings,
per-sample and running totals of received media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaMode = Literal["replay", "synthetic"]
MEDIA_MODES: tuple[MediaMode, ...] = ("replay", "synthetic")


CLOSED_BY_AIORTC = "peer connection closed (ICE consent lost: see the load tester's loop lag)"
"""aiortc closes a connection by itself when aioice's consent-freshness checks go unanswered
six times in a row (each gets 0.5 s). When the load tester's own sockets back up behind media
it cannot process fast enough, the answers come seconds late: its report shows the event-loop
lag to tell that apart from a broken path."""


class PeerFailure(Exception):
    """Why a peer could not join or dropped; the message is the reason reported."""


@dataclass(frozen=True)
class MediaOptions:
    width: int
    height: int
    fps: int
    audio: bool
    mode: MediaMode = "replay"
    """``replay``: send media encoded once, count received frames without decoding (cheap,
    for many sessions). ``synthetic``: encode live pictures and a tone, decode everything
    received (end-to-end quality checks; costs far more CPU per session)."""
    audio_packet_ms: int = 20
    """Opus packet length in the replay mode (20, 40 or 60; browsers send 20)."""


@dataclass
class PeerTimings:
    """Milliseconds from the moment the peer started connecting."""

    ws_connected_ms: float | None = None
    subscribed_ms: float | None = None
    ice_connected_ms: float | None = None
    first_frame_ms: float | None = None


@dataclass
class PeerSample:
    """Media received since the previous sample."""

    interval_s: float
    frames: int
    bytes: int
    fps: float
    kbps: float


@dataclass
class PeerTotals:
    frames: int = 0
    bytes: int = 0
    packets_received: int = 0
    packets_lost: int = 0
    jitter_ms: float = 0.0
    sampled_s: float = 0.0
    """Seconds covered by samples since the first remote frame."""
    sampled_frames: int = 0
    sampled_bytes: int = 0

    @property
    def fps(self) -> float | None:
        """Frames per second over the whole sampled time (not a mean of samples, which
        short or late intervals would skew)."""
        return round(self.sampled_frames / self.sampled_s, 2) if self.sampled_s else None

    @property
    def kbps(self) -> float | None:
        return round(self.sampled_bytes * 8 / 1000 / self.sampled_s, 1) if self.sampled_s else None
