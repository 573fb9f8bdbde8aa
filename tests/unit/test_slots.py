"""Free slots from availability: daylight-saving changes, the date line, buffers, notice,
horizon, exceptions and the mentee's own sessions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from store.models import Availability, DateException, TimeRange, default_availability
from store.slots import Busy, SlotRule, free_slots, slot_problem

WEEKDAYS_9_17 = default_availability("UTC").weekly
LONG_AGO = datetime(2027, 1, 1, tzinfo=UTC)
"""A "now" before every date below; horizons are widened to reach them."""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hours(zone: str, **changes: Any) -> Availability:
    base = Availability(time_zone=zone, min_notice_minutes=0, horizon_days=365)
    return replace(base, **changes)


def day_slots(
    a: Availability, start: datetime, days: int = 1, duration: int = 60
) -> list[datetime]:
    return free_slots(a, duration, start, start + timedelta(days=days), LONG_AGO)


def test_new_york_hours_follow_the_clock_across_spring_forward() -> None:
    ny = hours("America/New_York")
    # Friday 12 March 2027 is still EST (-5); Monday 15 March is EDT (-4).
    friday = day_slots(ny, utc(2027, 3, 12))
    assert friday[0] == utc(2027, 3, 12, 14) and friday[-1] == utc(2027, 3, 12, 21)
    monday = day_slots(ny, utc(2027, 3, 15))
    assert monday[0] == utc(2027, 3, 15, 13) and monday[-1] == utc(2027, 3, 15, 20)
    assert len(friday) == len(monday) == 15  # 09:00..16:00 local, every half hour
    # Saturday and Sunday are off by default.
    assert day_slots(ny, utc(2027, 3, 13, 5), days=2) == []


def test_new_york_on_the_day_of_the_change() -> None:
    # 01:00-04:00 on Sunday 14 March 2027: 02:00-03:00 does not exist, so two real hours.
    sunday = (TimeRange(60, 240),)
    ny = hours("America/New_York", weekly=((),) * 6 + (sunday,))
    found = day_slots(ny, utc(2027, 3, 14), duration=30)
    assert found == [utc(2027, 3, 14, 6, m) for m in (0, 30)] + [
        utc(2027, 3, 14, 7, m) for m in (0, 30)
    ]
    # Falling back (7 November 2027): 01:00-04:00 lasts four real hours.
    fall = day_slots(ny, utc(2027, 11, 7), duration=30)
    assert fall[0] == utc(2027, 11, 7, 5) and fall[-1] == utc(2027, 11, 7, 8, 30)
    assert len(fall) == 8


@pytest.mark.parametrize(
    ("before", "after", "first_before", "first_after"),
    [
        # Spring: last Sunday of March 2027 (the 28th), CET +1 -> CEST +2.
        (date(2027, 3, 26), date(2027, 3, 29), utc(2027, 3, 26, 8), utc(2027, 3, 29, 7)),
        # Autumn: last Sunday of October 2027 (the 31st), CEST +2 -> CET +1.
        (date(2027, 10, 29), date(2027, 11, 1), utc(2027, 10, 29, 7), utc(2027, 11, 1, 8)),
    ],
)
def test_madrid_across_both_changes(
    before: date, after: date, first_before: datetime, first_after: datetime
) -> None:
    madrid = hours("Europe/Madrid")
    start = datetime.combine(before, datetime.min.time(), tzinfo=UTC)
    found = day_slots(madrid, start, days=4)
    assert found[0] == first_before
    assert first_after in found
    assert first_after - timedelta(minutes=30) not in found
    assert len(found) == 30  # two weekdays of 15 one-hour starts; the weekend is off


def test_auckland_monday_starts_on_sunday_in_utc() -> None:
    mondays_only = ((TimeRange(540, 1020),),) + ((),) * 6
    auckland = hours("Pacific/Auckland", weekly=mondays_only)
    # Monday 4 January 2027, NZDT (+13): 09:00 is Sunday 20:00 UTC.
    found = day_slots(auckland, utc(2027, 1, 3), days=2)
    assert found[0] == utc(2027, 1, 3, 20)
    assert found[-1] == utc(2027, 1, 4, 3)
    assert len(found) == 15
    # After the April change to NZST (+12), Monday 5 April 09:00 is Sunday 21:00 UTC.
    april = day_slots(auckland, utc(2027, 4, 4), days=2)
    assert april[0] == utc(2027, 4, 4, 21)


def test_a_session_fits_inside_one_range() -> None:
    lunch_break = (TimeRange(540, 720), TimeRange(780, 1020))
    a = hours("UTC", weekly=(lunch_break,) * 7)
    found = day_slots(a, utc(2027, 2, 1), duration=90)
    assert utc(2027, 2, 1, 10, 30) in found
    assert utc(2027, 2, 1, 11) not in found  # would run into the break
    assert utc(2027, 2, 1, 12, 30) not in found
    assert utc(2027, 2, 1, 13) in found
    assert found[-1] == utc(2027, 2, 1, 15, 30)


def test_buffer_around_the_mentors_sessions_only() -> None:
    a = hours("UTC", buffer_minutes=15)
    busy_hour = [(utc(2027, 2, 1, 11), utc(2027, 2, 1, 12))]
    mentor_busy = day_slots(a, utc(2027, 2, 1), duration=30)
    assert utc(2027, 2, 1, 10, 30) in mentor_busy
    with_mentor = free_slots(
        a, 30, utc(2027, 2, 1), utc(2027, 2, 2), LONG_AGO, Busy(mentor=busy_hour)
    )
    assert utc(2027, 2, 1, 10) in with_mentor
    for blocked in (utc(2027, 2, 1, 10, 30), utc(2027, 2, 1, 11), utc(2027, 2, 1, 12)):
        assert blocked not in with_mentor
    assert utc(2027, 2, 1, 12, 30) in with_mentor
    with_mentee = free_slots(
        a, 30, utc(2027, 2, 1), utc(2027, 2, 2), LONG_AGO, Busy(mentee=busy_hour)
    )
    assert utc(2027, 2, 1, 10, 30) in with_mentee and utc(2027, 2, 1, 12) in with_mentee
    assert utc(2027, 2, 1, 11) not in with_mentee and utc(2027, 2, 1, 11, 30) not in with_mentee


def test_minimum_notice_and_horizon() -> None:
    a = Availability(time_zone="UTC", weekly=((TimeRange(0, 1440),),) * 7)
    now = utc(2027, 2, 1, 9, 10)
    found = free_slots(a, 30, now - timedelta(days=1), now + timedelta(days=90), now)
    assert found[0] == utc(2027, 2, 1, 11, 30)  # two hours' notice, then the grid
    assert found[-1] < now + timedelta(days=60)
    assert found[-1] == utc(2027, 4, 2, 9)
    assert slot_problem(a, utc(2027, 2, 1, 11), 30, now) is SlotRule.TOO_SOON
    assert slot_problem(a, utc(2027, 4, 2, 9, 30), 30, now) is SlotRule.BEYOND_HORIZON


def test_exceptions_replace_the_weekly_hours() -> None:
    a = hours(
        "Europe/Madrid",
        exceptions=(
            DateException(date(2027, 2, 3)),  # Wednesday off
            DateException(date(2027, 2, 6), (TimeRange(600, 660),)),  # Saturday 10-11
        ),
    )
    week = day_slots(a, utc(2027, 2, 1), days=7, duration=60)
    assert [s for s in week if s.date() == date(2027, 2, 3)] == []
    assert [s for s in week if s.date() == date(2027, 2, 6)] == [utc(2027, 2, 6, 9)]
    assert slot_problem(a, utc(2027, 2, 3, 10), 60, LONG_AGO) is SlotRule.OUTSIDE_AVAILABILITY


def test_rules_named_by_slot_problem() -> None:
    a = hours("UTC", durations=(30, 60))
    start = utc(2027, 2, 1, 10)
    assert slot_problem(a, start, 60, LONG_AGO) is None
    assert slot_problem(a, start, 90, LONG_AGO) is SlotRule.DURATION_NOT_OFFERED
    assert slot_problem(a, start + timedelta(minutes=15), 30, LONG_AGO) is SlotRule.OFF_GRID
    assert slot_problem(a, utc(2027, 2, 1, 16, 30), 60, LONG_AGO) is SlotRule.OUTSIDE_AVAILABILITY
    mine = Busy(mentee=[(start, start + timedelta(minutes=30))])
    assert slot_problem(a, start, 60, LONG_AGO, mine) is SlotRule.MENTEE_BUSY
    theirs = Busy(mentor=[(start, start + timedelta(minutes=30))])
    assert slot_problem(a, start, 60, LONG_AGO, theirs) is SlotRule.MENTOR_BUSY
    assert day_slots(a, start, duration=90) == []


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Madrid", "Pacific/Auckland"])
def test_the_list_is_exactly_what_the_check_accepts(zone: str) -> None:
    a = hours(zone, buffer_minutes=10, min_notice_minutes=180, horizon_days=20)
    now = utc(2027, 3, 20, 7, 45)
    busy = Busy(
        mentor=[(utc(2027, 3, 29, 13), utc(2027, 3, 29, 14))],
        mentee=[(utc(2027, 3, 30, 9), utc(2027, 3, 30, 10, 30))],
    )
    start, end = now - timedelta(days=1), now + timedelta(days=25)
    found = free_slots(a, 60, start, end, now, busy)
    assert found
    every = [utc(2027, 3, 19) + timedelta(minutes=30 * i) for i in range(26 * 48)]
    accepted = [s for s in every if start <= s < end and slot_problem(a, s, 60, now, busy) is None]
    assert found == accepted
