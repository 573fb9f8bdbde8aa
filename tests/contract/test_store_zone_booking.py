"""Booking and moving across clock changes and the date line, through the booking services
(the same rules the API applies) on every store, with a fixed "now".

New York springs forward on 2025-03-09, Madrid falls back on 2025-10-26, and a Monday in
Pacific/Auckland begins on Sunday in UTC. The mentor's hours are read in the mentor's zone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from store.base import Store
from store.models import Availability, DateException, Session, TimeRange
from store.validation import BookingRequest
from tests.contract.conftest import mentor
from web.api.errors import ApiError
from web.services.scheduling import reschedule
from web.services.sessions import book_session

MENTOR = "mentor@example.com"
MENTEE = "mentee@example.com"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def set_up(store: Store, zone: str, availability: Availability | None = None) -> None:
    await store.save_profile(replace(mentor(MENTOR, "Mentor"), time_zone=zone))
    if availability is not None:
        await store.set_availability(MENTOR, availability)


async def book(store: Store, start: datetime, now: datetime, duration: int = 60) -> str:
    request = BookingRequest(MENTOR, start, duration, "Clock changes")
    return (await book_session(store, MENTEE, request, now)).session_id


async def refused(store: Store, start: datetime, now: datetime, duration: int = 60) -> str:
    with pytest.raises(ApiError) as caught:
        await book(store, start, now, duration)
    return str(caught.value.code or caught.value.field)


async def test_new_york_spring_forward(store: Store) -> None:
    # Default hours (weekdays 09:00-17:00 local); the Sunday of the change opens 01:00-04:00,
    # which is only two real hours: 02:00-03:00 does not exist that night.
    night = DateException(date(2025, 3, 9), (TimeRange(60, 240),))
    await set_up(store, "America/New_York", Availability("America/New_York", exceptions=(night,)))
    now = utc("2025-03-03T12:00:00")
    # 09:00 local is 14:00Z before the change (EST) and 13:00Z after it (EDT).
    friday = await book(store, utc("2025-03-07T14:00:00"), now)
    await book(store, utc("2025-03-10T13:00:00"), now)
    assert await refused(store, utc("2025-03-10T12:30:00"), now, 30) == "outside_availability"
    assert await refused(store, utc("2025-03-10T21:00:00"), now, 30) == "outside_availability"
    # The night itself: 01:00 EST (06:00Z) for an hour fits; 03:30 EDT (07:30Z) for an hour
    # would end at 04:30 local.
    await book(store, utc("2025-03-09T06:00:00"), now)
    assert await refused(store, utc("2025-03-09T07:30:00"), now) == "outside_availability"
    # A move across the change keeps to local hours: Friday 09:00 -> Monday 16:00 EDT (20:00Z).
    session = await store.get_session(friday)
    assert session is not None
    moved = await reschedule(store, session, MENTEE, utc("2025-03-10T20:00:00"), now)
    assert moved.scheduled_at == utc("2025-03-10T20:00:00") and moved.sequence == 1


async def test_madrid_fall_back(store: Store) -> None:
    await set_up(store, "Europe/Madrid")
    now = utc("2025-10-20T08:00:00")
    # 09:00 local is 07:00Z before the change (CEST) and 08:00Z after it (CET).
    friday = await book(store, utc("2025-10-24T07:00:00"), now)
    assert await refused(store, utc("2025-10-27T07:00:00"), now) == "outside_availability"
    await book(store, utc("2025-10-27T08:00:00"), now)
    # 16:00-17:00 local on the Monday is 15:00-16:00Z; an hour from 16:00Z ends at 18:00 local.
    await book(store, utc("2025-10-27T15:00:00"), now)
    assert await refused(store, utc("2025-10-27T16:00:00"), now) == "outside_availability"
    session = await store.get_session(friday)
    assert session is not None
    assert await _move_refused(store, session, utc("2025-10-28T07:00:00"), now)
    moved = await reschedule(store, session, MENTOR, utc("2025-10-28T08:00:00"), now)
    assert moved.scheduled_at == utc("2025-10-28T08:00:00")


async def _move_refused(store: Store, session: Session, start: datetime, now: datetime) -> bool:
    with pytest.raises(ApiError) as caught:
        await reschedule(store, session, MENTOR, start, now)
    return caught.value.code == "outside_availability"


async def test_auckland_monday_begins_on_sunday_in_utc(store: Store) -> None:
    await set_up(store, "Pacific/Auckland")
    now = utc("2025-05-28T00:00:00")
    # Monday 2 June 09:00 NZST (+12) is Sunday 1 June 21:00Z.
    monday = await book(store, utc("2025-06-01T21:00:00"), now)
    # Sunday 1 June 09:00 local (Saturday 21:00Z) is a day off.
    assert await refused(store, utc("2025-05-31T21:00:00"), now) == "outside_availability"
    # Friday 6 June 16:00-17:00 local is Friday 04:00-05:00Z; Saturday's 09:00 is Friday 21:00Z.
    await book(store, utc("2025-06-06T04:00:00"), now)
    assert await refused(store, utc("2025-06-06T21:00:00"), now) == "outside_availability"
    session = await store.get_session(monday)
    assert session is not None
    moved = await reschedule(
        store, session, MENTEE, utc("2025-06-01T21:00:00") + timedelta(days=1), now
    )
    assert moved.scheduled_at == utc("2025-06-02T21:00:00")  # Tuesday 09:00 local
