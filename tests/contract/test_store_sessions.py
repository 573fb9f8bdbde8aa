"""Sessions: booking, double-booking prevention, listing, notes, cancelling."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from store.base import Conflict, NotFound, RoleFilter, Store
from store.models import Session, SessionStatus
from tests.contract.conftest import BASE, booking, minutes

MENTOR = "mentor@example.com"
MENTEE = "mentee@example.com"
BEFORE = BASE - timedelta(days=1)
"""A "now" before every session of these tests: they are all still ahead."""


async def test_create_and_get_round_trip(store: Store) -> None:
    plus_one = timezone(timedelta(hours=1))
    session = Session(
        session_id="abc123",
        mentor_email="Mentor@Example.com",
        mentee_email="MENTEE@example.com",
        scheduled_at=datetime(2031, 3, 4, 11, 0, 0, 999999, tzinfo=plus_one),
        duration=90,
        topic="Preparing for interviews",
        created_at=datetime(2030, 1, 1, 0, 0, 0, 1500, tzinfo=UTC),
        updated_at=datetime(2030, 1, 1, 0, 0, 0, 1500, tzinfo=UTC),
    )
    created = await store.create_session(session)
    expected = replace(
        session,
        mentor_email=MENTOR,
        mentee_email=MENTEE,
        scheduled_at=datetime(2031, 3, 4, 10, 0, 0, 999000, tzinfo=UTC),
        created_at=datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        updated_at=datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
    )
    assert created == expected
    fetched = await store.get_session("abc123")
    assert fetched == expected
    assert fetched is not None
    assert fetched.scheduled_at.tzinfo is UTC
    assert fetched.status is SessionStatus.SCHEDULED
    assert fetched.notes == "" and fetched.cancelled_by is None and fetched.cancel_reason is None


async def test_get_unknown_session_is_none(store: Store) -> None:
    assert await store.get_session("nope") is None


async def test_same_session_id_twice_is_a_conflict(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, session_id="dup"))
    later = BASE + timedelta(days=3)
    with pytest.raises(Conflict):
        await store.create_session(
            booking("x@example.com", "y@example.com", later, session_id="dup")
        )
    # The failed attempt left nothing behind: its slot is free, the first booking holds.
    kept = await store.get_session("dup")
    assert kept is not None and kept.mentor_email == MENTOR
    await store.create_session(booking("x@example.com", "y@example.com", later))
    with pytest.raises(Conflict):  # the first booking still holds its slot
        await store.create_session(booking(MENTOR, "z@example.com", BASE))


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (BASE, 60),  # the same slot
        (BASE + minutes(30), 30),  # inside
        (BASE - minutes(30), 60),  # overlaps the start
        (BASE + minutes(45), 15),  # inside, off the half-hour
        (BASE - minutes(60), 120),  # covers it
    ],
)
async def test_overlapping_booking_for_the_mentor_is_a_conflict(
    store: Store, start: datetime, duration: int
) -> None:
    await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    other = booking(MENTOR, "other@example.com", start, duration)
    with pytest.raises(Conflict):
        await store.create_session(other)
    assert await store.get_session(other.session_id) is None
    assert len(await store.list_sessions("other@example.com")) == 0


async def test_overlapping_booking_for_the_mentee_is_a_conflict(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    with pytest.raises(Conflict):  # the same mentee with another mentor
        await store.create_session(booking("second@example.com", MENTEE, BASE + minutes(30), 30))
    with pytest.raises(Conflict):  # the mentee of one session is the mentor of another
        await store.create_session(booking(MENTEE, "third@example.com", BASE, 30))
    with pytest.raises(Conflict):  # the mentor of one session books as a mentee
        await store.create_session(booking("fourth@example.com", MENTOR, BASE, 15))
    assert await store.list_sessions("second@example.com") == []
    assert await store.list_sessions("third@example.com") == []
    assert await store.list_sessions("fourth@example.com") == []


async def test_two_mentors_cannot_share_one_mentee_slot(store: Store) -> None:
    await store.create_session(booking("m1@example.com", MENTEE, BASE, 30))
    with pytest.raises(Conflict):
        await store.create_session(booking("m2@example.com", MENTEE, BASE, 30))


async def test_adjacent_bookings_both_succeed(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    await store.create_session(booking(MENTOR, MENTEE, BASE + minutes(60), 30))
    await store.create_session(booking(MENTOR, "early@example.com", BASE - minutes(30), 30))
    assert len(await store.list_sessions(MENTOR)) == 3


async def test_other_people_may_book_the_same_time(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    await store.create_session(booking("m2@example.com", "e2@example.com", BASE, 60))


async def test_cancel_frees_the_slot_for_a_new_booking(store: Store) -> None:
    first = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    cancelled = await store.cancel_session(
        first.session_id, "MENTEE@example.com", "Something came up", BEFORE
    )
    assert cancelled.status is SessionStatus.CANCELLED
    assert cancelled.cancelled_by == MENTEE
    assert cancelled.cancel_reason == "Something came up"
    assert cancelled.updated_at == BEFORE
    assert await store.get_session(first.session_id) == cancelled

    again = await store.create_session(booking(MENTOR, "new@example.com", BASE + minutes(30), 30))
    assert again.status is SessionStatus.SCHEDULED


async def test_cancel_twice_is_a_conflict(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE))
    await store.cancel_session(session.session_id, MENTOR, "Ill", BEFORE)
    with pytest.raises(Conflict):
        await store.cancel_session(session.session_id, MENTEE, "Again", BEFORE)
    after = await store.get_session(session.session_id)
    assert after is not None
    assert after.cancelled_by == MENTOR and after.cancel_reason == "Ill"


async def test_a_session_that_is_over_cannot_be_cancelled(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    with pytest.raises(Conflict):
        await store.cancel_session(session.session_id, MENTOR, "Too late", BASE + minutes(60))
    assert (await store.get_session(session.session_id)) == session


async def test_cancel_unknown_session_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.cancel_session("missing", MENTOR, "x", BEFORE)


async def test_update_notes(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE))
    at = BASE + minutes(20)
    updated = await store.update_notes(session.session_id, "Talked about CVs.\nNext: mocks", at)
    assert updated == replace(session, notes="Talked about CVs.\nNext: mocks", updated_at=at)
    assert await store.get_session(session.session_id) == updated


async def test_update_notes_of_unknown_session_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update_notes("missing", "text", BEFORE)


async def test_list_sessions_by_role_newest_first(store: Store) -> None:
    a = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    b = await store.create_session(booking(MENTEE, MENTOR, BASE + timedelta(days=1), 30))
    c = await store.create_session(booking(MENTOR, "z@example.com", BASE + timedelta(days=2), 30))
    await store.create_session(booking("else@example.com", "z@example.com", BASE, 30))

    def ids(sessions: list[Session]) -> list[str]:
        return [s.session_id for s in sessions]

    assert ids(await store.list_sessions("Mentor@example.com")) == [
        c.session_id,
        b.session_id,
        a.session_id,
    ]
    assert ids(await store.list_sessions(MENTOR, RoleFilter.MENTOR)) == [c.session_id, a.session_id]
    assert ids(await store.list_sessions(MENTOR, RoleFilter.MENTEE)) == [b.session_id]
    assert await store.list_sessions("stranger@example.com") == []


async def test_list_sessions_filters_by_effective_status(store: Store) -> None:
    past = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    running = await store.create_session(booking(MENTOR, MENTEE, BASE + minutes(120), 60))
    future = await store.create_session(booking(MENTOR, MENTEE, BASE + minutes(240), 60))
    gone = await store.create_session(booking(MENTOR, MENTEE, BASE + minutes(360), 30))
    await store.cancel_session(gone.session_id, MENTOR, "Busy", BEFORE)
    now = BASE + minutes(150)  # past is over, running is under way

    async def ids(status: SessionStatus) -> list[str]:
        found = await store.list_sessions(MENTEE, RoleFilter.ALL, status, now)
        # Sessions come back with their stored status; the caller derives the effective one.
        assert all(s.status is not SessionStatus.COMPLETED for s in found)
        assert all(s.effective_status(now) is status for s in found)
        return [s.session_id for s in found]

    assert await ids(SessionStatus.SCHEDULED) == [future.session_id, running.session_id]
    assert await ids(SessionStatus.COMPLETED) == [past.session_id]
    assert await ids(SessionStatus.CANCELLED) == [gone.session_id]
    assert len(await store.list_sessions(MENTEE, now=now)) == 4


async def test_stored_completed_status_counts_as_completed(store: Store) -> None:
    done = replace(booking(MENTOR, MENTEE, BASE, 30), status=SessionStatus.COMPLETED)
    await store.create_session(done)
    found = await store.list_sessions(MENTOR, status=SessionStatus.COMPLETED, now=BEFORE)
    assert [s.session_id for s in found] == [done.session_id]
    # A session recorded as completed holds no slot.
    await store.create_session(booking(MENTOR, MENTEE, BASE, 30))


async def test_busy_intervals(store: Store) -> None:
    one = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    two = await store.create_session(
        booking("other@example.com", "Guest@example.com", BASE + minutes(90), 30)
    )
    gone = await store.create_session(booking(MENTOR, "x@example.com", BASE + minutes(180), 30))
    await store.cancel_session(gone.session_id, MENTOR, "No", BEFORE)
    await store.create_session(booking(MENTOR, MENTEE, BASE + timedelta(days=2), 30))

    window = (BASE - minutes(60), BASE + timedelta(days=1))
    assert await store.busy_intervals([MENTOR, "guest@example.com"], *window) == [
        (one.scheduled_at, one.ends_at),
        (two.scheduled_at, two.ends_at),
    ]
    assert await store.busy_intervals([MENTEE], *window) == [(one.scheduled_at, one.ends_at)]
    # The window is half-open: a session ending exactly at its start is not busy.
    assert await store.busy_intervals([MENTOR], BASE + minutes(60), BASE + minutes(90)) == []
    assert await store.busy_intervals([], *window) == []
