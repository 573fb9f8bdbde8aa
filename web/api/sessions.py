"""Booking and managing mentoring sessions. Only the two participants see a session."""

from __future__ import annotations

import msgspec
import structlog
from aiohttp import web

from store.base import Conflict, RoleFilter, SessionChanged
from store.models import MailKind, OutboxMessage, Session, SessionStatus, utcnow
from store.validation import (
    check_start_time,
    parse_booking,
    parse_datetime,
    parse_session_update,
)
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError
from web.api.jsonio import answer, read_body
from web.api.limits import require_writer
from web.api.request_models import Booking, Reschedule, SessionUpdate
from web.api.spec import (
    NOT_SIGNED_IN,
    SESSION_ID,
    TOO_MANY_WRITES,
    Operation,
    Param,
    Reply,
    Route,
    error,
)
from web.auth import require_user
from web.metrics import record_booking
from web.notes import NOTES
from web.params import parse_session_filters, query_pairs
from web.services.notify import change_mail, mail_queued, session_sequence
from web.services.scheduling import reschedule
from web.services.sessions import book_session, session_of_participant, sessions_out

log = structlog.get_logger(__name__)

_NO_SESSION = error(404, "Unknown session (field sessionId)")
_NOT_YOURS = error(403, "Not a participant")


async def list_sessions(request: web.Request) -> web.Response:
    email = await require_user(request)
    filters = parse_session_filters(query_pairs(request))
    store = request.app[keys.STORE]
    now = utcnow()
    found = await store.list_sessions(
        email,
        RoleFilter(filters.role),
        SessionStatus(filters.status) if filters.status else None,
        now,
    )
    return answer(out.SessionList(sessions=await sessions_out(store, found, now)))


async def create_session(request: web.Request) -> web.Response:
    email = await require_writer(request)
    body = await read_body(request, Booking)
    now = utcnow()
    booking = parse_booking(msgspec.to_builtins(body), now)
    store = request.app[keys.STORE]

    async def booked_mail(session: Session) -> list[OutboxMessage]:
        return await change_mail(request, MailKind.BOOKED, session, sequence=0, now=now)

    saved = await book_session(store, email, booking, now, mail=booked_mail)
    record_booking(request.app)
    mail_queued(request.app)
    (shown,) = await sessions_out(store, [saved], now)
    return answer(out.SessionAnswer(session=shown), status=201)


async def get_session(request: web.Request) -> web.Response:
    email = await require_user(request)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    (shown,) = await sessions_out(request.app[keys.STORE], [session], utcnow())
    return answer(out.SessionAnswer(session=shown))


async def patch_session(request: web.Request) -> web.Response:
    email = await require_writer(request)
    body = await read_body(request, SessionUpdate)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    update = parse_session_update(msgspec.to_builtins(body), session.session_id)
    store = request.app[keys.STORE]
    now = utcnow()
    if update.action == "update_notes":
        # Through the live notes document, so open rooms see the REST edit at once.
        saved = await request.app[NOTES].set_notes_text(session.session_id, update.notes)
    else:
        if session.effective_status(now) is not SessionStatus.SCHEDULED:
            raise ApiError(409, "Only a scheduled session can be cancelled", "action")
        outbox = await change_mail(
            request,
            MailKind.CANCELLED,
            session,
            sequence=session_sequence(session) + 1,
            now=now,
            actor=email,
            reason=update.reason,
        )
        try:
            # Only the session as read: the notices above carry its time and sequence.
            saved = await store.cancel_session(
                session.session_id,
                email,
                update.reason,
                now,
                outbox=outbox,
                expected_sequence=session_sequence(session),
                expected_start=session.scheduled_at,
            )
        except SessionChanged as exc:
            raise changed_meanwhile(session, exc.current) from exc
        except Conflict as exc:
            raise ApiError(409, "Only a scheduled session can be cancelled", "action") from exc
        mail_queued(request.app)
        log.info("session.cancelled", session_id=session.session_id, by=email)
    (shown,) = await sessions_out(store, [saved], now)
    return answer(out.SessionAnswer(session=shown))


def changed_meanwhile(read: Session, current: Session) -> ApiError:
    """409 for a cancel that lost a race with a move: the field names what changed (the
    start, or only the change counter), so the page can show the session afresh."""
    if current.scheduled_at != read.scheduled_at:
        moved_to = current.scheduled_at.isoformat().replace("+00:00", "Z")
        return ApiError(
            409,
            f"The session was just moved to {moved_to}; nothing was cancelled. Check the new"
            " time and cancel again if you still want to.",
            "scheduledAt",
            code="session_changed",
        )
    return ApiError(
        409,
        "The session was just changed; nothing was cancelled. Reload it and try again.",
        "sequence",
        code="session_changed",
    )


async def reschedule_session(request: web.Request) -> web.Response:
    email = await require_writer(request)
    body = await read_body(request, Reschedule)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    now = utcnow()
    new_start = parse_datetime(body.scheduled_at, "scheduledAt")
    check_start_time(new_start, now)
    store = request.app[keys.STORE]

    async def moved_mail(after: Session) -> list[OutboxMessage]:
        return await change_mail(
            request,
            MailKind.RESCHEDULED,
            after,
            sequence=session_sequence(after),
            now=now,
            actor=email,
            previous_start=session.scheduled_at,
        )

    moved = await reschedule(store, session, email, new_start, now, mail=moved_mail)
    mail_queued(request.app)
    (shown,) = await sessions_out(store, [moved], now)
    return answer(out.SessionAnswer(session=shown))


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/mentoring/sessions",
            "Your sessions, newest first",
            params=(
                Param("role", {"type": "string", "enum": ["mentor", "mentee", "all"]}),
                Param(
                    "status",
                    {"type": "string", "enum": ["scheduled", "completed", "cancelled", "all"]},
                ),
            ),
            replies=(
                Reply(200, "Sessions", out.SessionList),
                error(400, "Bad filter"),
                NOT_SIGNED_IN,
            ),
        ),
        list_sessions,
    ),
    Route(
        Operation(
            "POST",
            "/api/mentoring/sessions",
            "Book a session with a mentor",
            body=Booking,
            replies=(
                Reply(201, "Booked", out.SessionAnswer),
                error(400, "A rule was broken; field names the input"),
                error(404, "No mentor with that address (field mentorEmail)"),
                error(409, "That time is already booked (field scheduledAt)"),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        create_session,
    ),
    Route(
        Operation(
            "GET",
            "/api/mentoring/sessions/{sessionId}",
            "One of your sessions",
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Session", out.SessionAnswer),
                _NOT_YOURS,
                _NO_SESSION,
                NOT_SIGNED_IN,
            ),
        ),
        get_session,
    ),
    Route(
        Operation(
            "PATCH",
            "/api/mentoring/sessions/{sessionId}",
            "Update the notes of a session or cancel it",
            body=SessionUpdate,
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Updated session", out.SessionAnswer),
                error(400, "A rule was broken; field names the input"),
                _NOT_YOURS,
                _NO_SESSION,
                error(
                    409,
                    "Only a scheduled session can be cancelled (field action); or the session"
                    " was moved or changed between reading it and cancelling it, and nothing"
                    " was cancelled (code session_changed; field scheduledAt when its time"
                    " moved, else sequence)",
                ),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        patch_session,
    ),
    Route(
        Operation(
            "POST",
            "/api/mentoring/sessions/{sessionId}/reschedule",
            "Move an upcoming session to another free time (either participant; the duration"
            " stays)",
            body=Reschedule,
            path_schemas=SESSION_ID,
            replies=(
                Reply(
                    200,
                    "The moved session (sequence + 1, one more history entry)",
                    out.SessionAnswer,
                ),
                error(400, "A rule was broken; field and code name it"),
                _NOT_YOURS,
                _NO_SESSION,
                error(
                    409,
                    "The time is taken (code taken / mentee_busy / mentor_busy), or the"
                    " session is not upcoming (field sessionId)",
                ),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        reschedule_session,
    ),
)
