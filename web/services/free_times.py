"""Free start times of a mentor for someone who wants to book: the slot list the booking
API serves and the mentor page previews. Rules live in :mod:`store.slots`; this reads the
busy times they need from the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from store import slots
from store.base import Store
from store.models import Availability, Profile
from store.slots import Busy


@dataclass(frozen=True)
class Asker:
    """Whose sessions besides the mentor's block a time, and which session is being moved."""

    mentee_email: str
    moving_session_id: str | None = None


async def busy_for(
    store: Store, mentor_email: str, asker: Asker, start: datetime, end: datetime
) -> Busy:
    """Scheduled sessions of the mentor and of the mentee overlapping [start, end)."""
    exclude = asker.moving_session_id
    mentor = await store.busy_intervals([mentor_email], start, end, exclude)
    mentee = await store.busy_intervals([asker.mentee_email], start, end, exclude)
    return Busy(mentor=mentor, mentee=mentee)


async def free_start_times(
    store: Store,
    mentor: Profile,
    asker: Asker,
    duration: int,
    start: datetime,
    end: datetime,
    now: datetime,
    availability: Availability | None = None,
) -> list[datetime]:
    rules = availability or mentor.effective_availability
    busy = await busy_for(store, mentor.email, asker, *slots.busy_window(rules, start, end))
    return slots.free_slots(rules, duration, start, end, now, busy)


NEXT_FREE_DAYS = 62
"""How far ahead :func:`next_free_times` looks (the slots API's widest window)."""


async def next_free_times(
    store: Store, mentor: Profile, asker_email: str, now: datetime, count: int
) -> list[datetime]:
    """The first ``count`` free starts of the mentor's shortest offered session for
    ``asker_email``, within the next :data:`NEXT_FREE_DAYS` days: what the slots API lists."""
    rules = mentor.effective_availability
    if not rules.durations:
        return []
    end = now + timedelta(days=NEXT_FREE_DAYS)
    found = await free_start_times(
        store, mentor, Asker(asker_email), rules.durations[0], now, end, now, rules
    )
    return found[:count]
