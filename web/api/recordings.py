"""/api/mentoring/sessions/{sessionId}/recordings...: consented recording of a session.

Participants only (403 otherwise); the consent rules and their 409s live in
:mod:`web.services.recording`.
"""

from __future__ import annotations

from aiohttp import web

from store.models import Recording, Session
from web import keys
from web.api import request_models as inp
from web.api import response_models as out
from web.api.errors import ApiError
from web.api.jsonio import answer, read_body
from web.api.spec import NOT_SIGNED_IN, SESSION_ID, Operation, Reply, Route, error
from web.auth import require_user
from web.services.recording import RecordingConflict, RecordingService
from web.services.sessions import session_of_participant

BASE = "/api/mentoring/sessions/{sessionId}/recordings"
RECORDING_ID = {
    **SESSION_ID,
    "recordingId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}


async def _participant(request: web.Request) -> tuple[Session, str, RecordingService]:
    email = await require_user(request)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    return session, email, request.app[keys.RECORDINGS]


def _state(service: RecordingService, session_id: str) -> out.RecordingState:
    phase, by = service.state_of(session_id)
    return out.RecordingState(enabled=service.enabled, state=phase, requestedBy=by)  # type: ignore[arg-type]


def part_out(recording: Recording) -> out.RecordingPart:
    url = f"/api/mentoring/sessions/{recording.session_id}/recordings/{recording.recording_id}/file"
    return out.RecordingPart(
        id=recording.recording_id,
        startedAt=recording.started_at.isoformat(),
        endedAt=recording.ended_at.isoformat() if recording.ended_at else None,
        durationS=recording.duration_s,
        sizeBytes=recording.size_bytes,
        status=recording.status.value,
        error=recording.error,
        url=url,
        downloadUrl=f"{url}?download=1",
    )


def _conflict(exc: RecordingConflict) -> ApiError:
    return ApiError(409, str(exc))


async def list_recordings(request: web.Request) -> web.Response:
    session, _email, service = await _participant(request)
    state = _state(service, session.session_id)
    parts = await request.app[keys.STORE].list_recordings(session.session_id)
    return answer(
        out.RecordingList(
            enabled=state.enabled,
            state=state.state,
            requestedBy=state.requestedBy,
            recordings=[part_out(p) for p in parts],
        )
    )


async def request_recording(request: web.Request) -> web.Response:
    session, email, service = await _participant(request)
    try:
        await service.request(session, email)
    except RecordingConflict as exc:
        raise _conflict(exc) from None
    return answer(_state(service, session.session_id), status=202)


async def answer_request(request: web.Request) -> web.Response:
    session, email, service = await _participant(request)
    body = await read_body(request, inp.RecordingAnswer)
    try:
        await service.answer(session, email, body.accept)
    except RecordingConflict as exc:
        raise _conflict(exc) from None
    return answer(_state(service, session.session_id))


async def stop_recording(request: web.Request) -> web.Response:
    session, email, service = await _participant(request)
    try:
        await service.stop(session, email)
    except RecordingConflict as exc:
        raise _conflict(exc) from None
    return answer(_state(service, session.session_id))


async def _recording(request: web.Request) -> tuple[Recording, RecordingService]:
    session, _email, service = await _participant(request)
    recording = await request.app[keys.STORE].get_recording(request.match_info["recordingId"])
    if recording is None or recording.session_id != session.session_id:
        raise ApiError(404, "No such recording", "recordingId")
    return recording, service


async def recording_file(request: web.Request) -> web.StreamResponse:
    recording, service = await _recording(request)
    path = service.path_of(recording)
    if not path.is_file():
        raise ApiError(404, "The recording's file is gone", "recordingId")
    response = web.FileResponse(path, headers={"Content-Type": "video/webm"})
    if request.query.get("download"):
        response.headers["Content-Disposition"] = (
            f'attachment; filename="session-{recording.session_id}-{path.name}"'
        )
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def delete_recording(request: web.Request) -> web.Response:
    recording, service = await _recording(request)
    try:
        await service.delete(recording)
    except RecordingConflict as exc:
        raise _conflict(exc) from None
    return web.Response(status=204)


PARTICIPANTS_ONLY = (
    error(403, "Not a participant"),
    error(404, "Unknown session (field sessionId)"),
    NOT_SIGNED_IN,
)

ROUTES = (
    Route(
        Operation(
            "GET",
            BASE,
            "The session's recording state and recorded parts (participants only)",
            path_schemas=SESSION_ID,
            replies=(Reply(200, "State and parts", out.RecordingList), *PARTICIPANTS_ONLY),
        ),
        list_recordings,
    ),
    Route(
        Operation(
            "POST",
            f"{BASE}/request",
            "Ask to record the session; it starts only when the other participant accepts",
            path_schemas=SESSION_ID,
            replies=(
                Reply(202, "Asked; the other participant is prompted", out.RecordingState),
                error(409, "Recording is off, or already asked or running"),
                *PARTICIPANTS_ONLY,
            ),
        ),
        request_recording,
    ),
    Route(
        Operation(
            "POST",
            f"{BASE}/answer",
            "Accept or refuse the other participant's request to record",
            body=inp.RecordingAnswer,
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Answered; accepted recordings start on the relay", out.RecordingState),
                error(400, "Bad body"),
                error(409, "Nothing to answer, or it is your own request"),
                *PARTICIPANTS_ONLY,
            ),
        ),
        answer_request,
    ),
    Route(
        Operation(
            "POST",
            f"{BASE}/stop",
            "Stop the running recording (either participant)",
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Stopped; the part is listed", out.RecordingState),
                error(409, "Not being recorded"),
                *PARTICIPANTS_ONLY,
            ),
        ),
        stop_recording,
    ),
    Route(
        Operation(
            "GET",
            f"{BASE}/{{recordingId}}/file",
            "The recorded part as WebM (participants only); ?download=1 as an attachment",
            path_schemas=RECORDING_ID,
            replies=(
                Reply(200, "The file (video/webm)"),
                error(403, "Not a participant"),
                error(404, "Unknown session or recording"),
                NOT_SIGNED_IN,
            ),
        ),
        recording_file,
    ),
    Route(
        Operation(
            "DELETE",
            f"{BASE}/{{recordingId}}",
            "Delete a recorded part (either participant)",
            path_schemas=RECORDING_ID,
            replies=(
                Reply(204, "Deleted"),
                error(409, "Still being recorded"),
                error(403, "Not a participant"),
                error(404, "Unknown session or recording"),
                NOT_SIGNED_IN,
            ),
        ),
        delete_recording,
    ),
)
