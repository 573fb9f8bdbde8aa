"""What the operator console keeps and asks of the store: per-participant call-quality
summaries of a session, and the search over past sessions.

A summary is display data computed from the room's own reports (never trusted for anything
else); it is stored beside the session, one per participant, replaced as the call goes on.
Both backends keep its body as the same JSON object (:func:`summary_to_json`), so what one
writes the other reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from store.codec import from_text, to_text

SEARCH_LIMIT_MAX = 200


@dataclass(frozen=True)
class QualitySummary:
    """One participant's call quality over a whole session, as their room reported it."""

    session_id: str
    email: str
    first_at: datetime
    last_at: datetime
    reports: int
    path: str
    """The last path: direct, turn-udp, turn-tcp, turn-tls, relay or none."""
    paths: tuple[str, ...] = ()
    """Every path the call took, in the order first seen."""
    node: str = ""
    """The server node that received the reports."""
    rtt_ms_avg: float | None = None
    rtt_ms_max: float | None = None
    jitter_ms_avg: float | None = None
    loss_pct_avg: float | None = None
    loss_pct_max: float | None = None
    bitrate_in_kbps_avg: float | None = None
    bitrate_out_kbps_avg: float | None = None
    fps_avg: float | None = None
    fps_min: float | None = None
    resolution: str = ""
    """The last received video size, "640x480"."""
    limitation: str = ""
    """The quality-limitation reason reported most often (cpu, bandwidth, other), if any."""
    local_candidate: str = ""
    remote_candidate: str = ""
    poor_reports: int = 0
    """Reports in which the connection counted as poor (sustained loss or low frame rate)."""
    join_ms: int | None = None
    """Time from opening the room to the first remote video frame, when the room said."""


@dataclass(frozen=True)
class SessionSearch:
    """The console's past-session search: a participant (part of either e-mail, any case)
    and a half-open range of start times, newest first."""

    participant: str | None = None
    start_from: datetime | None = None
    start_before: datetime | None = None
    limit: int = 50


_TIMES = ("first_at", "last_at")


def summary_to_json(summary: QualitySummary) -> dict[str, Any]:
    body = asdict(summary)
    for name in _TIMES:
        body[name] = to_text(body[name])
    body["paths"] = list(summary.paths)
    return body


def summary_from_json(body: dict[str, Any]) -> QualitySummary:
    known = {f.name for f in fields(QualitySummary)}
    values = {key: value for key, value in body.items() if key in known}
    for name in _TIMES:
        values[name] = from_text(values[name])
    values["paths"] = tuple(values.get("paths", ()))
    return QualitySummary(**values)


def participant_needle(search: SessionSearch) -> str | None:
    """The participant filter as stored e-mails compare (lower-case), or None for any."""
    text = (search.participant or "").strip().lower()
    return text or None
