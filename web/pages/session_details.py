"""The session details page body, shown on its own page and by the room once a session is over.

Callers have already checked that the viewer is a participant.
"""

from __future__ import annotations

from aiohttp import web

from store import validation as rules
from store.models import Profile, Recording, Session, utcnow
from web import keys
from web.pages.rendering import Viewer, display_name, render
from web.pages.session_history import history_context


async def render_session_details(
    request: web.Request, viewer: Viewer, session: Session
) -> web.Response:
    store = request.app[keys.STORE]
    mentor = await store.get_profile(session.mentor_email)
    mentee = await store.get_profile(session.mentee_email)
    now = utcnow()
    names = {
        session.mentor_email: _name_of(mentor, session.mentor_email),
        session.mentee_email: _name_of(mentee, session.mentee_email),
    }
    context = {
        "viewer": viewer,
        "nav": "sessions",
        "session": session,
        "status": session.effective_status(now).value,
        **history_context(session, now, viewer.email, viewer.time_zone, names),
        "mentor_name": names[session.mentor_email],
        "mentee_name": names[session.mentee_email],
        "role": "mentor" if session.mentor_email == viewer.email else "mentee",
        "cancelled_by_name": _canceller(session, mentor, mentee),
        "join_lead_minutes": request.app[keys.SETTINGS].room.join_lead_minutes,
        "recordings": [recording_view(r) for r in await store.list_recordings(session.session_id)],
    }
    return render(request, "session.html", context)


def recording_view(recording: Recording) -> dict[str, object]:
    """What the page shows of a recorded part: when, how long, how big, where."""
    url = f"/api/mentoring/sessions/{recording.session_id}/recordings/{recording.recording_id}"
    minutes, seconds = divmod(round(recording.duration_s), 60)
    return {
        "id": recording.recording_id,
        "started_at": recording.started_at,
        "duration": f"{minutes}:{seconds:02d}",
        "size": _size(recording.size_bytes),
        "status": recording.status.value,
        "error": recording.error,
        "file_url": f"{url}/file",
        "download_url": f"{url}/file?download=1",
        "delete_url": url,
    }


def _size(size_bytes: int) -> str:
    if size_bytes >= 1024 * 1024:
        return f"{size_bytes / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size_bytes / 1024))} KB"


def _name_of(profile: Profile | None, email: str) -> str:
    return display_name(profile) if profile is not None else rules.name_from_email(email)


def _canceller(session: Session, mentor: Profile | None, mentee: Profile | None) -> str:
    if session.cancelled_by is None:
        return ""
    if session.cancelled_by == session.mentor_email:
        return _name_of(mentor, session.mentor_email)
    if session.cancelled_by == session.mentee_email:
        return _name_of(mentee, session.mentee_email)
    return session.cancelled_by
