"""Scheduling on every backend: availability kept with the profile, moving a session (claims,
history, sequence), and a move racing new bookings for the same time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta

import pytest

from store.base import Conflict, NotFound, NotScheduled, SlotTaken, Store
from store.models import (
    Availability,
    DateException,
    Profile,
    Session,
    SessionChange,
    SessionStatus,
    TimeRange,
    default_availability,
)
from tests.contract.conftest import BASE, booking, mentor, minutes

MENTOR = "mentor@example.com"
MENTEE = "mentee@example.com"
OTHER = "other@example.com"
NOW = BASE - timedelta(days=1)

CUSTOM = Availability(
    time_zone="Europe/Madrid",
    weekly=(
        (TimeRange(540, 780), TimeRange(840, 1080)),
        (TimeRange(540, 1020),),
        (),
        (TimeRange(600, 660),),
        (TimeRange(0, 1440),),
        (),
        (),
    ),
    exceptions=(
        DateException(date(2031, 3, 10)),
        DateException(date(2031, 3, 15), (TimeRange(600, 720),)),
    ),
    buffer_minutes=15,
    min_notice_minutes=240,
    horizon_days=30,
    durations=(30, 60),
)


async def test_new_profiles_have_the_default_availability(store: Store) -> None:
    profile = await store.ensure_profile("new@example.com")
    assert profile.availability is None
    assert profile.effective_availability == default_availability("UTC")
    assert profile.effective_availability.weekly[5] == ()  # Saturday off


async def test_availability_round_trips_and_leaves_the_rest_alone(store: Store) -> None:
    saved = await store.save_profile(mentor(MENTOR, "Ana"))
    updated = await store.set_availability(MENTOR, CUSTOM)
    assert updated.availability == CUSTOM
    assert updated.mentoring == saved.mentoring
    fetched = await store.get_profile(MENTOR)
    assert fetched is not None and fetched.availability == CUSTOM
    # Saving the whole profile keeps it; None goes back to the default hours.
    await store.save_profile(replace(fetched, name="Ana B"))
    again = await store.get_profile(MENTOR)
    assert again is not None and again.availability == CUSTOM
    cleared = await store.set_availability(MENTOR, None)
    assert cleared.availability is None
    with pytest.raises(NotFound):
        await store.set_availability("ghost@example.com", CUSTOM)


async def test_save_profile_with_availability(store: Store) -> None:
    await store.save_profile(replace(mentor(MENTOR, "Ana"), availability=CUSTOM))
    fetched = await store.get_profile(MENTOR)
    assert fetched is not None and fetched.availability == CUSTOM


async def test_reschedule_moves_claims_and_records_history(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    assert session.sequence == 0 and session.history == ()
    later = BASE + timedelta(hours=3)
    moved = await store.reschedule_session(session.session_id, MENTEE.upper(), later, NOW)
    assert moved.scheduled_at == later
    assert moved.ends_at == later + minutes(60)
    assert moved.duration == 60
    assert moved.sequence == 1
    assert moved.history == (SessionChange(MENTEE, NOW, BASE, later),)
    assert moved.updated_at == NOW
    assert await store.get_session(session.session_id) == moved

    # The old time is free for both people, the new one is taken.
    await store.create_session(booking(MENTOR, OTHER, BASE, 60))
    await store.create_session(booking("v@example.com", MENTEE, BASE, 60))
    with pytest.raises(Conflict):
        await store.create_session(booking(MENTOR, "x@example.com", later + minutes(30), 30))
    with pytest.raises(Conflict):
        await store.create_session(booking("y@example.com", MENTEE, later, 30))

    # A second move adds to the history; cancelling raises the sequence again.
    final = BASE + timedelta(days=2)
    twice = await store.reschedule_session(session.session_id, MENTOR, final, NOW + minutes(1))
    assert twice.sequence == 2
    assert [c.to_start for c in twice.history] == [later, final]
    cancelled = await store.cancel_session(session.session_id, MENTOR, "Sorry", NOW + minutes(2))
    assert cancelled.sequence == 3
    assert cancelled.history == twice.history
    await store.create_session(booking(MENTOR, "u@example.com", final, 60))


async def test_cancel_raises_the_sequence(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 30))
    cancelled = await store.cancel_session(session.session_id, MENTEE, "Ill", NOW)
    assert cancelled.sequence == 1


async def test_overlapping_move_keeps_the_shared_cells(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 90))
    moved = await store.reschedule_session(session.session_id, MENTOR, BASE + minutes(30), NOW)
    assert moved.scheduled_at == BASE + minutes(30)
    # BASE is released; BASE+30 .. BASE+120 are held.
    await store.create_session(booking(MENTOR, OTHER, BASE, 30))
    for offset in (30, 60, 90):
        with pytest.raises(Conflict):
            await store.create_session(booking(MENTOR, OTHER, BASE + minutes(offset), 30))
    back = await store.reschedule_session(session.session_id, MENTOR, BASE + minutes(60), NOW)
    assert back.scheduled_at == BASE + minutes(60)
    await store.create_session(booking(MENTOR, "z@example.com", BASE + minutes(30), 30))


async def test_move_onto_a_taken_time_changes_nothing(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    blocker = BASE + timedelta(hours=4)
    await store.create_session(booking(OTHER, MENTEE, blocker + minutes(30), 30))
    with pytest.raises(SlotTaken):
        await store.reschedule_session(session.session_id, MENTOR, blocker, NOW)
    unchanged = await store.get_session(session.session_id)
    assert unchanged == session
    # Its own cells are still held, the cells tried are not.
    with pytest.raises(Conflict):
        await store.create_session(booking(MENTOR, OTHER, BASE, 30))
    await store.create_session(booking(MENTOR, "w@example.com", blocker, 30))


async def test_only_upcoming_scheduled_sessions_move(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.reschedule_session("nosuch", MENTOR, BASE, NOW)
    started = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    with pytest.raises(NotScheduled):
        await store.reschedule_session(
            started.session_id, MENTOR, BASE + timedelta(days=1), BASE + minutes(10)
        )
    cancelled = await store.create_session(booking(MENTOR, MENTEE, BASE + timedelta(days=3)))
    await store.cancel_session(cancelled.session_id, MENTOR, "No", NOW)
    with pytest.raises(NotScheduled):
        await store.reschedule_session(cancelled.session_id, MENTOR, BASE + minutes(600), NOW)


async def test_busy_intervals_can_leave_out_the_session_being_moved(store: Store) -> None:
    a = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    await store.create_session(booking(MENTOR, OTHER, BASE + minutes(120), 30))
    window = (BASE - timedelta(hours=1), BASE + timedelta(hours=5))
    assert len(await store.busy_intervals([MENTOR], *window)) == 2
    left = await store.busy_intervals([MENTOR], *window, exclude_session_id=a.session_id)
    assert left == [(BASE + minutes(120), BASE + minutes(150))]


async def test_a_move_and_new_bookings_race_for_one_time(store: Store) -> None:
    """The mentee moves a session onto a time that others are booking at the same moment
    with the mentor: exactly one of them gets it, and nothing is left half-held."""
    for round_ in range(4):
        day = BASE + timedelta(days=10 * round_)
        target = day + timedelta(hours=5)
        session = await store.create_session(booking(MENTOR, MENTEE, day, 60))
        rivals = [booking(MENTOR, f"rival{i}@example.com", target, 60) for i in range(6)]
        move = store.reschedule_session(session.session_id, MENTEE, target, NOW)
        results = await asyncio.gather(
            move, *(store.create_session(r) for r in rivals), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, Session)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Session))
        held = await store.busy_intervals([MENTOR], day - minutes(60), target + minutes(120))
        current = await store.get_session(session.session_id)
        assert current is not None and current.status is SessionStatus.SCHEDULED
        if isinstance(results[0], Session):  # the move won: the old time is free again
            assert current.scheduled_at == target
            assert held == [(target, target + minutes(60))]
            await store.create_session(booking(MENTOR, OTHER, day, 60))
        else:  # a booking won: the session kept its old time and its claims
            assert current == session
            assert held == [(day, day + minutes(60)), (target, target + minutes(60))]
            with pytest.raises(Conflict):
                await store.create_session(booking(OTHER, MENTEE, day, 30))


async def test_two_moves_of_one_session_apply_once(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, MENTEE, BASE, 60))
    first, second = BASE + timedelta(hours=3), BASE + timedelta(hours=6)
    results = await asyncio.gather(
        store.reschedule_session(session.session_id, MENTOR, first, NOW),
        store.reschedule_session(session.session_id, MENTEE, second, NOW),
        return_exceptions=True,
    )
    moved = [r for r in results if isinstance(r, Session)]
    assert 1 <= len(moved) <= 2, results
    current = await store.get_session(session.session_id)
    assert current is not None
    assert current.sequence == len(moved)
    # Only the current time is held; the other candidate and the original are free.
    held = await store.busy_intervals([MENTOR, MENTEE], BASE - minutes(60), BASE + minutes(600))
    assert held == [(current.scheduled_at, current.ends_at)]
    for start in {BASE, first, second} - {current.scheduled_at}:
        free = await store.create_session(booking(MENTOR, OTHER, start, 60))
        await store.cancel_session(free.session_id, MENTOR, "ok", NOW)


async def test_profiles_without_scheduling_fields_read_defaults(store: Store) -> None:
    profile = await store.save_profile(Profile(email="plain@example.com", time_zone="Asia/Tokyo"))
    assert profile.effective_availability.time_zone == "Asia/Tokyo"


async def test_zone_names_saved_before_read_canonically(store: Store) -> None:
    """Profiles saved with the name a browser reported read back with the canonical one."""
    await store.save_profile(Profile(email="old@example.com", time_zone="Asia/Calcutta"))
    profile = await store.get_profile("old@example.com")
    assert profile is not None and profile.time_zone == "Asia/Kolkata"
    assert profile.effective_availability.time_zone == "Asia/Kolkata"
