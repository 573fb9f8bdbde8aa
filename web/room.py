"""The session room page: video call, presence, chat and shared notes for a session's two
participants.

The page itself is static HTML plus ES modules under ``web/static/js/room/``; everything the
scripts need to know (who you are, your role, the other participant, the Pusher key, the
media relay mode) is embedded as JSON in ``<script type="application/json" id="room-config">``.
The scripts then talk to the hub (``/app/{key}``), the JSON API and the notes socket.

The page only carries the call while the session's room is open (``room.join_lead_minutes``
before the start until the end, see web/services/join_window.py): before that it shows when
the room opens with a countdown, afterwards (or once cancelled) the session's details.

The relay mode comes from ``relay.mode`` and may be overridden per page load with
``?relay=always|never|auto`` on the room URL, which is how tests force a path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web

from config.settings import Settings
from store import validation as rules
from store.models import Profile, Session, utcnow
from web import keys, params
from web.pages.rendering import Viewer, display_name, initials, render
from web.pages.session_details import render_session_details
from web.pages.session_history import history_context
from web.pages.viewer import signed_in_viewer
from web.services.join_window import JoinState, JoinWindow, join_window

RelayMode = Literal["auto", "always", "never"]
RELAY_MODES: tuple[RelayMode, ...] = ("auto", "always", "never")

ROOM_PATH = "/mentoring/session/{session_id}"


def setup_room_routes(app: web.Application) -> None:
    app.router.add_get(ROOM_PATH, room_page, name="page_room")


async def room_page(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    session_id = request.match_info["session_id"]
    store = request.app[keys.STORE]
    session = await store.get_session(session_id) if params.is_session_id(session_id) else None
    if session is None:
        return _message(request, viewer, "Not found", "That session does not exist.", 404)
    if not session.has_participant(viewer.email):
        return _message(
            request,
            viewer,
            "Access denied",
            "Only the mentor and the mentee of this session can join it.",
            403,
        )
    settings = request.app[keys.SETTINGS]
    now = utcnow()
    window = join_window(session, now, settings.room.join_lead_minutes)
    if window.state in (JoinState.ENDED, JoinState.CANCELLED):
        # A cancelled or finished session has no call left: show its details instead.
        return await render_session_details(request, viewer, session)
    mentor = await store.get_profile(session.mentor_email)
    mentee = await store.get_profile(session.mentee_email)
    if window.state is JoinState.NOT_YET:
        return _waiting_page(request, viewer, session, window, now, mentor, mentee)
    role: Literal["mentor", "mentee"] = (
        "mentor" if session.mentor_email == viewer.email else "mentee"
    )
    config = room_config(
        settings,
        session,
        role,
        mentor_name=_name_of(mentor, session.mentor_email),
        mentee_name=_name_of(mentee, session.mentee_email),
        relay_mode=relay_mode(settings, request.query.get("relay")),
    )
    peer = config["peer"]
    context = {
        "viewer": viewer,
        "nav": "sessions",
        "session": session,
        "status": session.effective_status().value,
        "role": role,
        "peer_name": peer["name"],
        "peer_initials": initials(peer["name"]),
        "room_config": config,
    }
    return render(request, "room/room.html", context)


def _waiting_page(
    request: web.Request,
    viewer: Viewer,
    session: Session,
    window: JoinWindow,
    now: datetime,
    mentor: Profile | None,
    mentee: Profile | None,
) -> web.Response:
    """The room before it opens: when it opens, with a countdown (403: no call yet)."""
    is_mentor = session.mentor_email == viewer.email
    peer_name = (
        _name_of(mentee, session.mentee_email)
        if is_mentor
        else _name_of(mentor, session.mentor_email)
    )
    remaining_ms = max(0, round((window.opens_at - now).total_seconds() * 1000))
    names = {
        session.mentor_email: _name_of(mentor, session.mentor_email),
        session.mentee_email: _name_of(mentee, session.mentee_email),
    }
    context = {
        **history_context(session, now, viewer.email, viewer.time_zone, names),
        "viewer": viewer,
        "nav": "sessions",
        "session": session,
        "peer_name": peer_name,
        "opens_at": window.opens_at,
        "remaining_ms": remaining_ms,
        "lead_minutes": request.app[keys.SETTINGS].room.join_lead_minutes,
    }
    return render(request, "room/waiting.html", context, status=403)


def relay_mode(settings: Settings, override: str | None) -> RelayMode:
    """The configured relay mode, unless the URL asks for a valid other one."""
    for mode in RELAY_MODES:
        if override == mode:
            return mode
    return settings.relay.mode


def room_config(
    settings: Settings,
    session: Session,
    role: Literal["mentor", "mentee"],
    *,
    mentor_name: str,
    mentee_name: str,
    relay_mode: RelayMode,
) -> dict[str, Any]:
    """What the room scripts need, as embedded in the page (no secrets)."""
    mentor = {"email": session.mentor_email, "name": mentor_name, "role": "mentor"}
    mentee = {"email": session.mentee_email, "name": mentee_name, "role": "mentee"}
    me, peer = (mentor, mentee) if role == "mentor" else (mentee, mentor)
    return {
        "sessionId": session.session_id,
        "topic": session.topic,
        "email": me["email"],
        "name": me["name"],
        "role": role,
        "polite": role == "mentee",
        "peer": peer,
        "pusherKey": settings.pusher.key,
        "chatTextMax": rules.CHAT_TEXT_MAX,
        "relay": {
            "mode": relay_mode,
            "connectTimeoutMs": round(settings.relay.connect_timeout_s * 1000),
        },
        "sessionsUrl": "/mentoring/sessions",
    }


def _message(
    request: web.Request, viewer: Viewer, title: str, message: str, status: int
) -> web.Response:
    context = {"viewer": viewer, "title": title, "message": message}
    return render(request, "message.html", context, status=status)


def _name_of(profile: Profile | None, email: str) -> str:
    return display_name(profile) if profile is not None else rules.name_from_email(email)
