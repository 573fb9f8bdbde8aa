"""The mentor page's availability in words: grouping of days, rules, exceptions, and free
times in the reader's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from store.models import Availability, DateException, TimeRange, default_availability
from web.pages.availability_summary import (
    amount,
    clock,
    exceptions_text,
    rules_text,
    summarize,
    weekly_text,
)

MORNING, AFTERNOON = TimeRange(540, 720), TimeRange(780, 1020)
SATURDAY = TimeRange(600, 720)


def test_default_hours_read_as_one_run() -> None:
    assert weekly_text(default_availability("UTC")) == "Mon-Fri 09:00-17:00 (UTC)"


def test_lunch_break_and_a_short_saturday() -> None:
    availability = Availability(
        time_zone="Europe/Madrid",
        weekly=((MORNING, AFTERNOON),) * 5 + ((SATURDAY,), ()),
    )
    assert weekly_text(availability) == (
        "Mon-Fri 09:00-12:00, 13:00-17:00; Sat 10:00-12:00 (Europe/Madrid)"
    )


def test_days_off_split_runs_and_whole_days_read_to_24_00() -> None:
    whole = (TimeRange(0, 1440),)
    availability = Availability(
        time_zone="Asia/Kolkata",
        weekly=((MORNING,), (MORNING,), (), (MORNING,), (), whole, whole),
    )
    assert weekly_text(availability) == (
        "Mon-Tue 09:00-12:00; Thu 09:00-12:00; Sat-Sun 00:00-24:00 (Asia/Kolkata)"
    )


def test_no_weekly_hours() -> None:
    availability = Availability(time_zone="UTC", weekly=((),) * 7)
    assert weekly_text(availability) == "No weekly hours (UTC)"


def test_rules() -> None:
    assert rules_text(default_availability("UTC"))[1:] == (
        "Book at least 2 hours ahead.",
        "Bookable up to 60 days ahead.",
    )
    custom = Availability(
        time_zone="UTC",
        durations=(30, 45, 60),
        min_notice_minutes=0,
        horizon_days=1,
        buffer_minutes=15,
    )
    assert rules_text(custom) == (
        "Sessions of 30, 45 or 60 minutes.",
        "Book at least a moment ahead.",
        "Bookable up to 1 day ahead.",
        "15 minutes kept free between sessions.",
    )
    assert rules_text(Availability(time_zone="UTC", durations=(60,)))[0] == (
        "Sessions of 60 minutes."
    )
    assert (amount(90), amount(60), amount(2880), clock(1440)) == (
        "90 minutes",
        "1 hour",
        "2 days",
        "24:00",
    )


def test_only_coming_exceptions_are_listed() -> None:
    availability = Availability(
        time_zone="UTC",
        exceptions=(
            DateException(date(2031, 3, 2)),
            DateException(date(2031, 3, 10)),
            DateException(date(2031, 3, 15), (SATURDAY,)),
        ),
    )
    assert exceptions_text(availability, date(2031, 3, 10)) == (
        "Mon 10 Mar 2031: day off",
        "Sat 15 Mar 2031: 10:00-12:00",
    )


def test_free_times_in_the_reader_zone_else_the_mentor_zone() -> None:
    availability = Availability(time_zone="Europe/Madrid")
    now = datetime(2031, 3, 30, 12, 0, tzinfo=UTC)  # the day after Madrid's DST change
    starts = [datetime(2031, 3, 31, 7, 0, tzinfo=UTC), datetime(2031, 3, 31, 7, 30, tzinfo=UTC)]
    in_new_york = summarize(availability, starts, "America/New_York", now)
    assert in_new_york.slots_zone == "America/New_York"
    assert [s.label for s in in_new_york.next_slots] == ["Mon 31 Mar, 03:00", "Mon 31 Mar, 03:30"]
    assert in_new_york.next_slots[0].iso == "2031-03-31T07:00:00Z"
    unknown = summarize(availability, starts, "Mars/Olympus", now)
    assert unknown.slots_zone == "Europe/Madrid"
    assert unknown.next_slots[0].label == "Mon 31 Mar, 09:00"
    many = summarize(availability, starts * 4, "UTC", now)
    assert len(many.next_slots) == 5
