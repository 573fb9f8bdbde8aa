"""Response bodies of the call-quality report and the operator console's API (/api/admin/...).

Kept beside :mod:`web.api.response_models` (same base, same conventions) so that module stays
about the mentoring app itself.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from web.api.response_models import Answer, Email, Time

Path = Annotated[str, Meta(description="none, direct, turn-udp, turn-tcp, turn-tls or relay")]


class QualityAck(Answer, omit_defaults=False):
    poor: Annotated[
        bool, Meta(description="This report counts as a poor connection (loss or frame rate)")
    ]


class QualityPoint(Answer, omit_defaults=False):
    at: Time
    path: Path
    rtt_ms: float | None
    jitter_ms: float | None
    loss_pct: float | None
    bitrate_in_kbps: float | None
    bitrate_out_kbps: float | None
    fps: float | None
    width: int | None
    height: int | None
    limitation: str | None
    local_candidate: str | None
    remote_candidate: str | None


class QualitySummary(Answer, omit_defaults=False):
    email: Email
    first_at: Time
    last_at: Time
    reports: int
    path: Path
    paths: list[str]
    node: str
    rtt_ms_avg: float | None
    rtt_ms_max: float | None
    jitter_ms_avg: float | None
    loss_pct_avg: float | None
    loss_pct_max: float | None
    bitrate_in_kbps_avg: float | None
    bitrate_out_kbps_avg: float | None
    fps_avg: float | None
    fps_min: float | None
    resolution: str
    limitation: str
    local_candidate: str
    remote_candidate: str
    poor_reports: int
    join_ms: int | None


class LiveParticipant(Answer, omit_defaults=False):
    email: Email
    path: Path
    since: Time
    latest: QualityPoint


class LiveSession(Answer, omit_defaults=False):
    session_id: str
    topic: str
    mentor_email: Email
    mentee_email: Email
    node: str
    since: Time
    participants: list[LiveParticipant]


class LiveSessions(Answer, omit_defaults=False):
    node: str
    sessions: list[LiveSession]


class SessionQuality(Answer, omit_defaults=False):
    session_id: str
    topic: str
    mentor_email: Email
    mentee_email: Email
    scheduled_at: Time
    duration: int
    status: str
    summaries: list[QualitySummary]
    series: Annotated[
        dict[str, list[QualityPoint]],
        Meta(description="Per participant, the reports of the last 30 minutes (live calls)"),
    ]


class PastSessions(Answer, omit_defaults=False):
    sessions: list[SessionQuality]


class HourActivity(Answer, omit_defaults=False):
    hour: Time
    signins: int
    bookings: int


class RelayOverview(Answer, omit_defaults=False):
    node: str
    cpu_percent: Annotated[
        float | None, Meta(description="This node's process CPU since the last look, %")
    ]
    relay: Annotated[dict[str, float], Meta(description="The relay's figures on this node")]
    workers: Annotated[
        list[dict[str, float | str]], Meta(description="Per relay worker, when it reports them")
    ]
    turn_by_transport: Annotated[
        dict[str, int], Meta(description="Participants of live calls per path")
    ]
    activity: list[HourActivity]
