"""Free start times from a mentor's availability: pure functions, no I/O.

Weekly hours and date exceptions are wall-clock times in the mentor's zone. They are expanded
one local date at a time and only then turned into UTC instants, so a range keeps its local
meaning across daylight-saving changes (09:00-17:00 in New York is 14:00-22:00 UTC in winter
and 13:00-21:00 UTC in summer) and a date is the mentor's date, not UTC's (Monday in Auckland
starts on Sunday in UTC).

A wall time that does not exist (inside a spring-forward gap) is read with the offset in force
before the change, and one that happens twice (fall back) as its first occurrence; ``24:00``
ends a range at the next local midnight.

Start times are on the 30-minute UTC grid the store claims cells on, so every slot offered
here can be booked with the same rules :func:`slot_problem` checks.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from store.models import SLOT_MINUTES, Availability

Interval = tuple[datetime, datetime]
GRID = timedelta(minutes=SLOT_MINUTES)


class SlotRule(StrEnum):
    """Why a start time cannot be booked (the API's error ``code``)."""

    DURATION_NOT_OFFERED = "duration_not_offered"
    OFF_GRID = "off_grid"
    TOO_SOON = "too_soon"
    BEYOND_HORIZON = "beyond_horizon"
    OUTSIDE_AVAILABILITY = "outside_availability"
    MENTOR_BUSY = "mentor_busy"
    MENTEE_BUSY = "mentee_busy"


@dataclass(frozen=True)
class Busy:
    """Scheduled sessions that block a booking: the mentor's (kept ``buffer`` apart) and the
    mentee's own."""

    mentor: Sequence[Interval] = ()
    mentee: Sequence[Interval] = ()


def tz_of(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _instant(day: date, minute: int, tz: zoneinfo.ZoneInfo) -> datetime:
    """Local ``day`` + ``minute`` after midnight (1440 = next midnight) as aware UTC."""
    if minute >= 24 * 60:
        day, minute = day + timedelta(days=1), minute - 24 * 60
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def open_intervals(availability: Availability, first_day: date, last_day: date) -> list[Interval]:
    """The bookable intervals (UTC) of every local date from ``first_day`` to ``last_day``."""
    tz = tz_of(availability.time_zone)
    intervals: list[Interval] = []
    day = first_day
    while day <= last_day:
        for r in availability.ranges_on(day):
            start, end = _instant(day, r.start_minute, tz), _instant(day, r.end_minute, tz)
            if start < end:
                intervals.append((start, end))
        day += timedelta(days=1)
    return intervals


def _local_days(availability: Availability, start: datetime, end: datetime) -> tuple[date, date]:
    """The local dates of the mentor touched by [start, end), with a day of margin."""
    tz = tz_of(availability.time_zone)
    return (
        start.astimezone(tz).date() - timedelta(days=1),
        end.astimezone(tz).date() + timedelta(days=1),
    )


def horizon_end(availability: Availability, now: datetime) -> datetime:
    """Sessions must start before this instant."""
    return now + timedelta(days=availability.horizon_days)


def earliest_start(availability: Availability, now: datetime) -> datetime:
    """Sessions must start at or after this instant."""
    return now + timedelta(minutes=availability.min_notice_minutes)


def _overlaps(
    start: datetime, end: datetime, intervals: Iterable[Interval], pad: timedelta
) -> bool:
    return any(s - pad < end and start < e + pad for s, e in intervals)


def _ceil_to_grid(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    floored = utc.replace(minute=utc.minute - utc.minute % SLOT_MINUTES, second=0, microsecond=0)
    return floored if floored == utc else floored + GRID


def slot_problem(
    availability: Availability,
    start: datetime,
    duration: int,
    now: datetime,
    busy: Busy = Busy(),
) -> SlotRule | None:
    """The first rule a booking of ``duration`` minutes at ``start`` breaks, or None."""
    if duration not in availability.durations:
        return SlotRule.DURATION_NOT_OFFERED
    utc = start.astimezone(UTC)
    if utc.minute % SLOT_MINUTES or utc.second or utc.microsecond:
        return SlotRule.OFF_GRID
    end = utc + timedelta(minutes=duration)
    if utc < earliest_start(availability, now):
        return SlotRule.TOO_SOON
    if utc >= horizon_end(availability, now):
        return SlotRule.BEYOND_HORIZON
    first, last = _local_days(availability, utc, end)
    if not any(s <= utc and end <= e for s, e in open_intervals(availability, first, last)):
        return SlotRule.OUTSIDE_AVAILABILITY
    if _overlaps(utc, end, busy.mentee, timedelta(0)):
        return SlotRule.MENTEE_BUSY
    if _overlaps(utc, end, busy.mentor, timedelta(minutes=availability.buffer_minutes)):
        return SlotRule.MENTOR_BUSY
    return None


def free_slots(
    availability: Availability,
    duration: int,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    busy: Busy = Busy(),
) -> list[datetime]:
    """Every start time in [window_start, window_end) that :func:`slot_problem` accepts,
    ascending. Empty when the duration is not offered."""
    if duration not in availability.durations:
        return []
    low = max(window_start, earliest_start(availability, now))
    high = min(window_end, horizon_end(availability, now))
    if low >= high:
        return []
    length = timedelta(minutes=duration)
    pad = timedelta(minutes=availability.buffer_minutes)
    first, last = _local_days(availability, low, high)
    found: set[datetime] = set()
    for open_start, open_end in open_intervals(availability, first, last):
        candidate = _ceil_to_grid(max(open_start, low))
        while candidate < high and candidate + length <= open_end:
            end = candidate + length
            if not _overlaps(candidate, end, busy.mentee, timedelta(0)) and not _overlaps(
                candidate, end, busy.mentor, pad
            ):
                found.add(candidate)
            candidate += GRID
    return sorted(found)


def busy_window(availability: Availability, start: datetime, end: datetime) -> Interval:
    """The span of sessions worth reading to judge starts in [start, end): widened by the
    longest session and the buffer on both sides."""
    pad = timedelta(minutes=max(availability.durations, default=0) + availability.buffer_minutes)
    return start - pad, end + pad
