"""Totals the relay keeps for metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Counters:
    """Totals for metrics, shared by every publication and track of one manager."""

    packets_in: int = 0
    packets_forwarded: int = 0
    packets_dropped: int = 0
    packets_fast: int = 0
    """Packets received and forwarded within the datagram callback (:mod:`relay.fastpath`)."""
    frames_in: int = 0
    frames_forwarded: int = 0
    frames_dropped: int = 0
    frames_transcoded: int = 0
    keyframe_requests: int = 0
    bitrate_reports: int = 0


def relay_stats(
    counters: Counters,
    *,
    max_sessions: int,
    sessions: int = 0,
    peer_connections: int = 0,
    streams: int = 0,
    transcoding: int = 0,
    sessions_started: int = 0,
) -> dict[str, Any]:
    """A manager's gauges and totals for metrics (an idle worker reports them without one)."""
    return {
        "sessions": sessions,
        "peer_connections": peer_connections,
        "streams": streams,
        "transcoding": transcoding,
        "max_sessions": max_sessions,
        "sessions_started": sessions_started,
        **asdict(counters),
    }
