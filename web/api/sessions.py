"""Booking and managing mentoring sessions. Only the two participants see a session."""

from __future__ import annotations

import secrets

import structlog
from aiohttp import web

from store.base import Conflict, RoleFilter, Store
from store.models import Session, SessionStatus, utcnow
from store.validation import (
    ValidationError,
    check_booking_for_mentor,
    is_session_id,
    parse_booking,
    parse_session_filters,
    parse_session_update,
)
from web import keys
from web.api.discover import bookable_mentor
from web.api.errors import ApiError, forbidden
from web.api.jsonio import query_pairs, read_json_object
from web.auth import require_user
from web.metrics import record_booking
from web.notes import NOTES
from web.serialize import JsonDict, session_json

log = structlog.get_logger(__name__)


def new_session_id() -> str:
    """URL-safe and valid in Pusher channel names (``private-session-{id}``)."""
    return secrets.token_urlsafe(12)


async def display_names(store: Store, sessions: list[Session]) -> dict[str, str]:
    emails = {e for s in sessions for e in (s.mentor_email, s.mentee_email)}
    names: dict[str, str] = {}
    for email in sorted(emails):
        profile = await store.get_profile(email)
        names[email] = profile.name if profile else ""
    return names


async def sessions_json(store: Store, sessions: list[Session]) -> list[JsonDict]:
    names = await display_names(store, sessions)
    now = utcnow()
    return [session_json(s, names, now) for s in sessions]


async def participant_session(request: web.Request, email: str) -> Session:
    """The session in the URL: 404 when unknown, 403 when ``email`` is not a participant."""
    return await session_of_participant(request, request.match_info["sessionId"], email)


async def session_of_participant(request: web.Request, session_id: str, email: str) -> Session:
    """Session ``session_id``: 404 when unknown, 403 when ``email`` is not a participant."""
    if not is_session_id(session_id):
        raise ApiError(404, "Session not found", "sessionId")
    session = await request.app[keys.STORE].get_session(session_id)
    if session is None:
        raise ApiError(404, "Session not found", "sessionId")
    if not session.has_participant(email):
        raise forbidden()
    return session


async def list_sessions(request: web.Request) -> web.Response:
    email = await require_user(request)
    filters = parse_session_filters(query_pairs(request))
    store = request.app[keys.STORE]
    found = await store.list_sessions(
        email,
        RoleFilter(filters.role),
        SessionStatus(filters.status) if filters.status else None,
        utcnow(),
    )
    return web.json_response({"sessions": await sessions_json(store, found)})


async def create_session(request: web.Request) -> web.Response:
    email = await require_user(request)
    body = await read_json_object(request)
    now = utcnow()
    booking = parse_booking(body, now)
    store = request.app[keys.STORE]
    if booking.mentor_email == email:
        raise ValidationError("mentorEmail", "You cannot book a session with yourself")
    mentor = await bookable_mentor(store, booking.mentor_email)
    check_booking_for_mentor(booking, email, mentor)
    session = Session(
        session_id=new_session_id(),
        mentor_email=mentor.email,
        mentee_email=email,
        scheduled_at=booking.scheduled_at,
        duration=booking.duration,
        topic=booking.topic,
        created_at=now,
        updated_at=now,
    )
    try:
        saved = await store.create_session(session)
    except Conflict as exc:
        raise ApiError(409, "That time is already booked", "scheduledAt") from exc
    record_booking(request.app)
    log.info("session.booked", session_id=saved.session_id, mentor=mentor.email, mentee=email)
    (body_json,) = await sessions_json(store, [saved])
    return web.json_response({"session": body_json}, status=201)


async def get_session(request: web.Request) -> web.Response:
    email = await require_user(request)
    session = await participant_session(request, email)
    (body_json,) = await sessions_json(request.app[keys.STORE], [session])
    return web.json_response({"session": body_json})


async def patch_session(request: web.Request) -> web.Response:
    email = await require_user(request)
    body = await read_json_object(request)
    session = await participant_session(request, email)
    update = parse_session_update(body, session.session_id)
    store = request.app[keys.STORE]
    now = utcnow()
    if update.action == "update_notes":
        # Through the live notes document, so open rooms see the REST edit at once.
        saved = await request.app[NOTES].set_notes_text(session.session_id, update.notes)
    else:
        if session.effective_status(now) is not SessionStatus.SCHEDULED:
            raise ApiError(409, "Only a scheduled session can be cancelled", "action")
        try:
            saved = await store.cancel_session(session.session_id, email, update.reason, now)
        except Conflict as exc:
            raise ApiError(409, "Only a scheduled session can be cancelled", "action") from exc
        log.info("session.cancelled", session_id=session.session_id, by=email)
    (body_json,) = await sessions_json(store, [saved])
    return web.json_response({"session": body_json})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mentoring/sessions", list_sessions)
    app.router.add_post("/api/mentoring/sessions", create_session)
    app.router.add_get("/api/mentoring/sessions/{sessionId}", get_session)
    app.router.add_patch("/api/mentoring/sessions/{sessionId}", patch_session)
