"""The booking rules of a mentor's availability, applied to bookings, moves and slot lists.

One check (:func:`store.slots.slot_problem`) serves booking and reschedule, and the slot list
(:func:`store.slots.free_slots`) offers exactly the start times that check accepts. Busy times
are read from the store; the database's cell claims still decide a race (409), the buffer is
the one rule only this read enforces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from store import slots
from store.base import NotFound, NotScheduled, SlotTaken, Store
from store.models import Availability, OutboxMessage, Profile, Session, SessionChange, SessionStatus
from store.slots import SlotRule
from web.api.errors import ApiError
from web.services.free_times import Asker, busy_for

log = structlog.get_logger(__name__)


def _minutes(n: int) -> str:
    if n % (24 * 60) == 0 and n:
        days = n // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if n % 60 == 0 and n:
        hours = n // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{n} minutes"


def rule_error(rule: SlotRule, availability: Availability, by_mentee: bool = True) -> ApiError:
    """The API's answer for a broken rule: 400 naming the field, 409 when the time is taken.
    ``by_mentee`` is False when the mentor asks (moving a session): then the clash is
    someone else's."""
    mentee_busy = (
        "You already have a session at that time; please pick another"
        if by_mentee
        else "The mentee already has a session at that time; please pick another"
    )
    offered = ", ".join(str(d) for d in availability.durations)
    messages: dict[SlotRule, tuple[int, str, str]] = {
        SlotRule.DURATION_NOT_OFFERED: (
            400,
            "duration",
            f"This mentor offers sessions of {offered} minutes",
        ),
        SlotRule.OFF_GRID: (400, "scheduledAt", "Sessions start on the hour or the half hour"),
        SlotRule.TOO_SOON: (
            400,
            "scheduledAt",
            f"Too soon: this mentor needs {_minutes(availability.min_notice_minutes)} notice",
        ),
        SlotRule.BEYOND_HORIZON: (
            400,
            "scheduledAt",
            f"Too far ahead: this mentor takes bookings up to {availability.horizon_days} days"
            " ahead",
        ),
        SlotRule.OUTSIDE_AVAILABILITY: (
            400,
            "scheduledAt",
            f"Outside the mentor's available hours ({availability.time_zone})",
        ),
        SlotRule.MENTOR_BUSY: (409, "scheduledAt", "That time is already booked"),
        SlotRule.MENTEE_BUSY: (409, "scheduledAt", mentee_busy),
    }
    status, field, message = messages[rule]
    return ApiError(status, message, field, code=rule.value)


async def check_time(
    store: Store,
    mentor: Profile,
    asker: Asker,
    start: datetime,
    duration: int,
    now: datetime,
    availability: Availability | None = None,
    by_mentee: bool = True,
) -> None:
    """Raise the API error for the first rule ``start`` breaks (400 rule, 409 taken)."""
    rules = availability or mentor.effective_availability
    window = slots.busy_window(rules, start, start + timedelta(minutes=duration))
    busy = await busy_for(store, mentor.email, asker, *window)
    problem = slots.slot_problem(rules, start, duration, now, busy)
    if problem is not None:
        raise rule_error(problem, rules, by_mentee)


def keeping_duration(availability: Availability, duration: int) -> Availability:
    """A move keeps the session's length even if the mentor no longer offers it."""
    return replace(availability, durations=tuple(sorted({*availability.durations, duration})))


MoveMail = Callable[[Session], Awaitable[Sequence[OutboxMessage]]]
"""Builds the messages of a move from the session as it will be after it."""


def after_move(session: Session, by: str, new_start: datetime, now: datetime) -> Session:
    """``session`` as the store will return it once moved to ``new_start`` by ``by``: what
    the move's e-mail and invitation describe."""
    return replace(
        session,
        scheduled_at=new_start,
        updated_at=now,
        sequence=session.sequence + 1,
        history=(
            *session.history,
            SessionChange(by=by, at=now, from_start=session.scheduled_at, to_start=new_start),
        ),
    )


async def reschedule(
    store: Store,
    session: Session,
    by: str,
    new_start: datetime,
    now: datetime,
    mail: MoveMail | None = None,
) -> Session:
    """Move ``session`` (checked to be ``by``'s) to ``new_start`` under the booking rules.
    The messages ``mail`` builds are stored with the move, or not at all; if the session
    changed since it was read, the store refuses the move (409) rather than tell people
    about the wrong change."""
    if session.effective_status(now) is not SessionStatus.SCHEDULED or session.scheduled_at <= now:
        raise ApiError(409, "Only an upcoming scheduled session can be moved", "sessionId")
    if new_start == session.scheduled_at:
        raise ApiError(400, "That is already the session's time", "scheduledAt")
    mentor = await store.get_profile(session.mentor_email)
    if mentor is None:
        raise ApiError(409, "The mentor of this session no longer exists", "sessionId")
    rules = keeping_duration(mentor.effective_availability, session.duration)
    asker = Asker(session.mentee_email, moving_session_id=session.session_id)
    by_mentee = by.strip().lower() == session.mentee_email.lower()
    await check_time(store, mentor, asker, new_start, session.duration, now, rules, by_mentee)
    outbox = await mail(after_move(session, by, new_start, now)) if mail is not None else ()
    try:
        moved = await store.reschedule_session(
            session.session_id, by, new_start, now, outbox=outbox
        )
    except SlotTaken as exc:
        raise ApiError(409, "That time is already booked", "scheduledAt", code="taken") from exc
    except NotScheduled as exc:
        raise ApiError(409, "Only an upcoming scheduled session can be moved", "sessionId") from exc
    except NotFound as exc:
        raise ApiError(404, "Session not found", "sessionId") from exc
    log.info(
        "session.rescheduled",
        session_id=moved.session_id,
        by=by,
        sequence=moved.sequence,
    )
    return moved
