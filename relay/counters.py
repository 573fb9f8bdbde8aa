"""Totals the relay keeps for metrics."""

from __future__ import annotations

from dataclasses import dataclass


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
