"""Mentoring sessions: who may see one, booking one, and how they are shown.

Used by the API handlers, the media relay's access check and the room; it knows the store and
the error shape, never a request body.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog
from aiohttp import web

from store import validation as rules
from store.base import Conflict, Store
from store.models import OutboxMessage, Profile, Session
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError, forbidden
from web.params import is_session_id
from web.serialize import session_out
from web.services.free_times import Asker
from web.services.scheduling import check_time

log = structlog.get_logger(__name__)


def new_session_id() -> str:
    """URL-safe and valid in Pusher channel names (``private-session-{id}``)."""
    return secrets.token_urlsafe(12)


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


async def bookable_mentor(store: Store, raw_email: object) -> Profile:
    """The mentor's profile, or 404 on ``mentorEmail`` when unknown or not mentoring."""
    mentor_email = rules.parse_email(raw_email, "mentorEmail")
    mentor = await store.get_profile(mentor_email)
    if mentor is None or not mentor.mentoring.enabled:
        raise ApiError(404, "No mentor with that address", "mentorEmail")
    return mentor


MailFor = Callable[[Session], Awaitable[Sequence[OutboxMessage]]]
"""Builds the messages a booking sends, given the session about to be stored."""


async def book_session(
    store: Store,
    mentee_email: str,
    booking: rules.BookingRequest,
    now: datetime,
    mail: MailFor | None = None,
) -> Session:
    """Book ``booking`` for ``mentee_email``: the self-booking check, the mentor read once,
    the mentor's availability rules (duration offered, notice, horizon, hours, busy times of
    both people with the mentor's buffer), then the store's cell claims (409 when taken). The
    messages ``mail`` builds are stored with the booking, or not at all."""
    rules.check_not_own_booking(booking, mentee_email)
    mentor = await bookable_mentor(store, booking.mentor_email)
    await check_time(
        store, mentor, Asker(mentee_email), booking.scheduled_at, booking.duration, now
    )
    session = Session(
        session_id=new_session_id(),
        mentor_email=mentor.email,
        mentee_email=mentee_email,
        scheduled_at=booking.scheduled_at,
        duration=booking.duration,
        topic=booking.topic,
        created_at=now,
        updated_at=now,
    )
    outbox = await mail(session) if mail is not None else ()
    try:
        saved = await store.create_session(session, outbox=outbox)
    except Conflict as exc:
        raise ApiError(409, "That time is already booked", "scheduledAt", code="taken") from exc
    log.info(
        "session.booked", session_id=saved.session_id, mentor=mentor.email, mentee=mentee_email
    )
    return saved


async def display_names(store: Store, sessions: list[Session]) -> dict[str, str]:
    emails = {e for s in sessions for e in (s.mentor_email, s.mentee_email)}
    names: dict[str, str] = {}
    for email in sorted(emails):
        profile = await store.get_profile(email)
        names[email] = profile.name if profile else ""
    return names


async def sessions_out(store: Store, sessions: list[Session], now: datetime) -> list[out.Session]:
    """Sessions as the API shows them, with both participants' display names."""
    names = await display_names(store, sessions)
    return [session_out(s, names, now) for s in sessions]
