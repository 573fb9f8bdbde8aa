"""The rules of a mentor's availability: decoded JSON in, a valid :class:`Availability` out.

Like :mod:`store.validation` (whose :class:`ValidationError` these raise), nothing here
touches a database. Fields are named as the API spells them, with a path where the value is
nested: ``weekly.monday``, ``exceptions[2].ranges``.

Decisions:
- Range edges are on a 15-minute boundary ("09:00", "12:45"; "24:00" ends at midnight), so
  mentors in zones with odd offsets (Asia/Kathmandu, +05:45) can say what they mean; the
  start times offered are still the 30-minute UTC grid inside those ranges.
- Ranges of a day are sorted; overlapping ranges are refused, touching ones merged.
- Exceptions on dates already past (in the mentor's zone) are dropped; one beyond the booking
  horizon is refused, since nobody could book it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from store.models import Availability, DateException, TimeRange
from store.slots import tz_of
from store.validation import DURATIONS, ValidationError, parse_time_zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RANGE_STEP_MINUTES = 15
RANGES_PER_DAY_MAX = 6
EXCEPTIONS_MAX = 100
BUFFER_MAX_MINUTES = 60
BUFFER_STEP_MINUTES = 5
MIN_NOTICE_MAX_MINUTES = 14 * 24 * 60
HORIZON_MIN_DAYS, HORIZON_MAX_DAYS = 1, 365

_CLOCK_RE = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")


def parse_clock(value: object, field: str) -> int:
    """``"HH:MM"`` on a 15-minute boundary -> minutes after midnight (``"24:00"`` is 1440)."""
    text = value if isinstance(value, str) else ""
    match = _CLOCK_RE.fullmatch(text.strip())
    minutes = int(match[1]) * 60 + int(match[2]) if match else -1
    if not match or minutes > 24 * 60:
        raise ValidationError(field, "Expected a time as HH:MM, from 00:00 to 24:00")
    if minutes % RANGE_STEP_MINUTES:
        raise ValidationError(field, "Times are on the quarter hour (:00, :15, :30, :45)")
    return minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_ranges(value: object, field: str) -> tuple[TimeRange, ...]:
    """A list of ``{"start": "HH:MM", "end": "HH:MM"}``: sorted, non-overlapping, merged."""
    if not isinstance(value, list):
        raise ValidationError(field, "Expected a list of time ranges")
    if len(value) > RANGES_PER_DAY_MAX:
        raise ValidationError(field, f"At most {RANGES_PER_DAY_MAX} time ranges a day")
    ranges: list[TimeRange] = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"start", "end"}:
            raise ValidationError(field, 'Each range is {"start": "HH:MM", "end": "HH:MM"}')
        start, end = parse_clock(item["start"], field), parse_clock(item["end"], field)
        if start >= end:
            raise ValidationError(field, "A range must start before it ends")
        ranges.append(TimeRange(start, end))
    merged: list[TimeRange] = []
    for r in sorted(ranges):
        if merged and r.start_minute < merged[-1].end_minute:
            raise ValidationError(field, "Time ranges of a day must not overlap")
        if merged and r.start_minute == merged[-1].end_minute:
            merged[-1] = TimeRange(merged[-1].start_minute, r.end_minute)
        else:
            merged.append(r)
    return tuple(merged)


def _whole(value: object, field: str, low: int, high: int, step: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"Expected a whole number from {low} to {high}")
    if value % step:
        raise ValidationError(field, f"Use a multiple of {step}")
    return value


def parse_durations(value: object, field: str = "durations") -> tuple[int, ...]:
    allowed = ", ".join(str(d) for d in DURATIONS)
    if not isinstance(value, list) or not value:
        raise ValidationError(field, f"Offer at least one duration of {allowed} minutes")
    chosen: set[int] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item not in DURATIONS:
            raise ValidationError(field, f"Durations are {allowed} minutes")
        chosen.add(item)
    return tuple(sorted(chosen))


def parse_availability(body: Mapping[str, object], now: datetime) -> Availability:
    """A whole availability (the API's PUT body, JSON types already checked)."""
    time_zone = parse_time_zone(body.get("timeZone"), "timeZone")
    weekly_raw = body.get("weekly")
    if not isinstance(weekly_raw, Mapping):
        raise ValidationError("weekly", "Must be an object with one list per weekday")
    for key in weekly_raw:
        if key not in WEEKDAYS:
            raise ValidationError(f"weekly.{key}", "Unknown weekday")
    weekly = tuple(parse_ranges(weekly_raw.get(day, []), f"weekly.{day}") for day in WEEKDAYS)
    horizon = _whole(body.get("horizonDays"), "horizonDays", HORIZON_MIN_DAYS, HORIZON_MAX_DAYS)
    availability = Availability(
        time_zone=time_zone,
        weekly=weekly,
        exceptions=parse_exceptions(body.get("exceptions", []), time_zone, horizon, now),
        buffer_minutes=_whole(
            body.get("bufferMinutes"), "bufferMinutes", 0, BUFFER_MAX_MINUTES, BUFFER_STEP_MINUTES
        ),
        min_notice_minutes=_whole(
            body.get("minNoticeMinutes"), "minNoticeMinutes", 0, MIN_NOTICE_MAX_MINUTES
        ),
        horizon_days=horizon,
        durations=parse_durations(body.get("durations")),
    )
    return availability


def parse_exceptions(
    value: object, time_zone: str, horizon_days: int, now: datetime
) -> tuple[DateException, ...]:
    """Date exceptions: past dates dropped, one per date, none beyond the horizon."""
    if not isinstance(value, list):
        raise ValidationError("exceptions", "Expected a list of date exceptions")
    if len(value) > EXCEPTIONS_MAX:
        raise ValidationError("exceptions", f"At most {EXCEPTIONS_MAX} date exceptions")
    today = now.astimezone(tz_of(time_zone)).date()
    last = today + timedelta(days=horizon_days)
    found: dict[date, DateException] = {}
    for index, item in enumerate(value):
        where = f"exceptions[{index}]"
        if not isinstance(item, Mapping) or not set(item) <= {"date", "ranges"}:
            raise ValidationError(where, 'Each exception is {"date": "YYYY-MM-DD", "ranges"}')
        raw_day = item.get("date")
        try:
            day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
        except ValueError:
            day = None
        if day is None or not isinstance(raw_day, str) or len(raw_day) != 10:
            raise ValidationError(f"{where}.date", "Expected a date as YYYY-MM-DD")
        ranges = parse_ranges(item.get("ranges", []), f"{where}.ranges")
        if day < today:
            continue
        if day > last:
            raise ValidationError(
                f"{where}.date", f"Beyond the booking horizon ({horizon_days} days)"
            )
        if day in found:
            raise ValidationError(f"{where}.date", "Only one exception per date")
        found[day] = DateException(day, ranges)
    return tuple(found[d] for d in sorted(found))
