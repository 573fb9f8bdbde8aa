"""The rules of a mentor's availability, and canonical zone names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from store.availability_rules import parse_availability
from store.models import DateException, TimeRange
from store.validation import ValidationError, parse_time_zone

NOW = datetime(2027, 2, 1, 12, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "timeZone": "Europe/Madrid",
        "weekly": {"monday": [{"start": "09:00", "end": "12:00"}]},
        "exceptions": [],
        "bufferMinutes": 10,
        "minNoticeMinutes": 120,
        "horizonDays": 60,
        "durations": [60, 30],
        **changes,
    }


def test_a_valid_availability() -> None:
    parsed = parse_availability(
        body(
            weekly={
                "monday": [
                    {"start": "14:00", "end": "17:00"},
                    {"start": "09:00", "end": "12:00"},
                    {"start": "12:00", "end": "13:00"},
                ],
                "sunday": [{"start": "22:00", "end": "24:00"}],
            },
            exceptions=[
                {"date": "2027-02-10", "ranges": []},
                {"date": "2027-01-10", "ranges": []},  # past: dropped
                {"date": "2027-02-05", "ranges": [{"start": "10:15", "end": "11:45"}]},
            ],
        ),
        NOW,
    )
    assert parsed.weekly[0] == (TimeRange(540, 780), TimeRange(840, 1020))  # merged, sorted
    assert parsed.weekly[1:6] == ((),) * 5
    assert parsed.weekly[6] == (TimeRange(1320, 1440),)
    assert parsed.exceptions == (
        DateException(date(2027, 2, 5), (TimeRange(615, 705),)),
        DateException(date(2027, 2, 10)),
    )
    assert parsed.durations == (30, 60)
    assert (parsed.buffer_minutes, parsed.min_notice_minutes, parsed.horizon_days) == (10, 120, 60)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"weekly": {"funday": []}}, "weekly.funday"),
        ({"weekly": {"monday": [{"start": "09:10", "end": "10:00"}]}}, "weekly.monday"),
        ({"weekly": {"monday": [{"start": "10:00", "end": "09:00"}]}}, "weekly.monday"),
        ({"weekly": {"monday": [{"start": "25:00", "end": "26:00"}]}}, "weekly.monday"),
        (
            {
                "weekly": {
                    "friday": [
                        {"start": "09:00", "end": "12:00"},
                        {"start": "11:00", "end": "13:00"},
                    ]
                }
            },
            "weekly.friday",
        ),
        (
            {
                "weekly": {
                    "monday": [{"start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(7)]
                }
            },
            "weekly.monday",
        ),
        ({"bufferMinutes": 61}, "bufferMinutes"),
        ({"bufferMinutes": 7}, "bufferMinutes"),
        ({"bufferMinutes": True}, "bufferMinutes"),
        ({"minNoticeMinutes": -1}, "minNoticeMinutes"),
        ({"horizonDays": 0}, "horizonDays"),
        ({"horizonDays": 366}, "horizonDays"),
        ({"durations": []}, "durations"),
        ({"durations": [45]}, "durations"),
        ({"exceptions": [{"date": "2027-13-01", "ranges": []}]}, "exceptions[0].date"),
        ({"exceptions": [{"date": "2027-06-01", "ranges": []}]}, "exceptions[0].date"),
        (
            {"exceptions": [{"date": "2027-02-03"}, {"date": "2027-02-03"}]},
            "exceptions[1].date",
        ),
        (
            {"exceptions": [{"date": "2027-02-03", "ranges": [{"start": "x", "end": "y"}]}]},
            "exceptions[0].ranges",
        ),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_availability(body(**changes), NOW)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("US/Eastern", "America/New_York"),
        ("Etc/UTC", "UTC"),
        ("Europe/Oslo", "Europe/Oslo"),
        ("Pacific/Auckland", "Pacific/Auckland"),
    ],
)
def test_zone_names_are_stored_canonically(given: str, stored: str) -> None:
    assert parse_time_zone(given) == stored
