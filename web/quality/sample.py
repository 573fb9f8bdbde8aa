"""One call-quality report, checked: the ranges a real browser can produce, nothing else.

The room sends these every 5 seconds (``web/static/js/room/quality.js``). A value outside its
range is a 400 naming the field; an absent or null figure means the browser did not know it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from store.validation import ValidationError

PATHS = ("none", "direct", "turn-udp", "turn-tcp", "turn-tls", "relay")
CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
LIMITATIONS = ("none", "cpu", "bandwidth", "other")

RANGES: dict[str, tuple[float, float]] = {
    "rttMs": (0, 60_000),
    "jitterMs": (0, 60_000),
    "lossPct": (0, 100),
    "bitrateInKbps": (0, 1_000_000),
    "bitrateOutKbps": (0, 1_000_000),
    "fps": (0, 240),
    "width": (0, 16_384),
    "height": (0, 16_384),
    "joinMs": (0, 3_600_000),
}
"""Inclusive bounds of each figure, by its name in the report."""

POOR_LOSS_PCT = 5.0
"""Packet loss at or above this counts as a poor connection (the room uses the same value)."""
POOR_FPS = 10.0
"""Received video below this many frames per second counts as poor."""


@dataclass(frozen=True)
class Sample:
    at: datetime
    path: str
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    bitrate_in_kbps: float | None = None
    bitrate_out_kbps: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    limitation: str | None = None
    local_candidate: str | None = None
    remote_candidate: str | None = None

    @property
    def poor(self) -> bool:
        lossy = self.loss_pct is not None and self.loss_pct >= POOR_LOSS_PCT
        slow = self.fps is not None and self.fps < POOR_FPS
        return lossy or slow

    @property
    def resolution(self) -> str:
        if not self.width or not self.height:
            return ""
        return f"{self.width}x{self.height}"


def in_range(name: str, value: float | None) -> float | None:
    """``value`` when inside the range of figure ``name`` (None passes), else a 400."""
    if value is None:
        return None
    low, high = RANGES[name]
    if not low <= value <= high:
        raise ValidationError(name, f"Must be between {low:g} and {high:g}")
    return value


def one_of(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None or value in allowed:
        return value
    raise ValidationError(name, "Must be one of: " + ", ".join(allowed))


def sample_to_json(sample: Sample) -> dict[str, object]:
    body = {key: value for key, value in asdict(sample).items() if value is not None}
    body["at"] = sample.at.isoformat()
    return body


def sample_from_json(body: dict[str, Any]) -> Sample:
    known = {f.name for f in fields(Sample)}
    values = {key: value for key, value in body.items() if key in known}
    values["at"] = datetime.fromisoformat(values["at"])
    return Sample(**values)
