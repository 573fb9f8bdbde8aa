"""POST /api/mentoring/sessions/{sessionId}/quality: the room's call-quality report.

Participants only, while the room is open, rate-limited per participant and session
(``limits.quality_*``). The figures are checked against the ranges a browser can produce and
kept for display: the console, the session's summary and the Prometheus histograms.
"""

from __future__ import annotations

from aiohttp import web

from store.models import utcnow
from store.validation import ValidationError
from web import keys
from web.api import admin_models as admin_out
from web.api.jsonio import answer, read_body
from web.api.limits import enforce
from web.api.request_models import QualityReport
from web.api.spec import NOT_SIGNED_IN, SESSION_ID, Operation, Reply, Route, error
from web.auth import require_user
from web.params import is_session_id
from web.quality.sample import (
    CANDIDATE_TYPES,
    LIMITATIONS,
    PATHS,
    Sample,
    in_range,
    one_of,
)
from web.services import join_window  # a module: web.api loads while it does
from web.services.sessions import session_of_participant


def sample_of(report: QualityReport) -> Sample:
    """The report's figures, each checked against its range (a 400 naming the field)."""
    width = in_range("width", report.width)
    height = in_range("height", report.height)
    return Sample(
        at=utcnow(),
        path=one_of("path", report.path, PATHS) or "none",
        rtt_ms=in_range("rttMs", report.rttMs),
        jitter_ms=in_range("jitterMs", report.jitterMs),
        loss_pct=in_range("lossPct", report.lossPct),
        bitrate_in_kbps=in_range("bitrateInKbps", report.bitrateInKbps),
        bitrate_out_kbps=in_range("bitrateOutKbps", report.bitrateOutKbps),
        fps=in_range("fps", report.fps),
        width=None if width is None else int(width),
        height=None if height is None else int(height),
        limitation=one_of("limitation", report.limitation, LIMITATIONS),
        local_candidate=one_of("localCandidate", report.localCandidate, CANDIDATE_TYPES),
        remote_candidate=one_of("remoteCandidate", report.remoteCandidate, CANDIDATE_TYPES),
    )


def _connection_id(value: str) -> str:
    if not 8 <= len(value) <= 64 or not is_session_id(value):
        raise ValidationError("connectionId", "Expected 8 to 64 letters, digits, - or _")
    return value


async def post_quality(request: web.Request) -> web.Response:
    email = await require_user(request)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    app = request.app
    join_window.require_open(session, utcnow(), app[keys.SETTINGS].room.join_lead_minutes)
    report = await read_body(request, QualityReport)
    connection_id = _connection_id(report.connectionId)
    sample = sample_of(report)
    join_ms = in_range("joinMs", report.joinMs)
    await enforce(request, "quality", f"{email}:{session.session_id}", None)
    await app[keys.QUALITY].report(
        session.session_id,
        email,
        connection_id,
        sample,
        None if join_ms is None else int(join_ms),
        report.final,
    )
    return answer(admin_out.QualityAck(poor=sample.poor))


ROUTES = (
    Route(
        Operation(
            "POST",
            "/api/mentoring/sessions/{sessionId}/quality",
            "Report the call quality seen by this participant's room (every 5 s)",
            body=QualityReport,
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Accepted (display data only)", admin_out.QualityAck),
                error(400, "A figure out of range, or a malformed body (field names it)"),
                error(403, "Not a participant, or the room is not open"),
                error(404, "Unknown session (field sessionId)"),
                error(
                    429,
                    "Too many reports for this session (limits.quality); Retry-After says when",
                ),
                NOT_SIGNED_IN,
            ),
        ),
        post_quality,
    ),
)
