"""A mentor's availability in words, for their public page.

Pure formatting: the weekly hours grouped into runs of days with the same hours ("Mon-Fri
09:00-12:00, 13:00-17:00; Sat 10:00-12:00 (Europe/Madrid)"), the booking rules a mentee
meets (durations, notice, horizon), the coming date exceptions, and the next free start
times in the reader's zone. The free times themselves come from the slot computation the
booking API uses (:func:`web.services.scheduling.next_free_times`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.models import Availability, TimeRange

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NEXT_SLOTS = 5
"""How many free start times the page lists."""
EXCEPTIONS_SHOWN = 5


@dataclass(frozen=True)
class FreeTime:
    """One listed start time: ISO UTC for ``<time datetime>``, and how it reads."""

    iso: str
    label: str


@dataclass(frozen=True)
class AvailabilitySummary:
    weekly: str
    """The weekly hours with the mentor's zone, or a sentence saying there are none."""
    rules: tuple[str, ...]
    """Durations offered, minimum notice, how far ahead, buffer: one sentence each."""
    exceptions: tuple[str, ...]
    """Coming dates that differ from the weekly hours."""
    next_slots: tuple[FreeTime, ...]
    slots_zone: str
    """The zone the free times are shown in."""


def clock(minute: int) -> str:
    """Minutes after local midnight as HH:MM (1440 is 24:00, the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def ranges_text(ranges: Sequence[TimeRange]) -> str:
    return ", ".join(f"{clock(r.start_minute)}-{clock(r.end_minute)}" for r in ranges)


def _day_run(first: int, last: int) -> str:
    return DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]}-{DAY_NAMES[last]}"


def weekly_text(availability: Availability) -> str:
    """The weekly hours: consecutive days with the same hours share one entry, days off are
    left out, the zone closes the sentence."""
    runs: list[str] = []
    day = 0
    while day < 7:
        ranges = availability.weekly[day]
        last = day
        while last + 1 < 7 and availability.weekly[last + 1] == ranges:
            last += 1
        if ranges:
            runs.append(f"{_day_run(day, last)} {ranges_text(ranges)}")
        day = last + 1
    if not runs:
        return f"No weekly hours ({availability.time_zone})"
    return f"{'; '.join(runs)} ({availability.time_zone})"


def amount(minutes: int) -> str:
    """A span in the largest whole unit: "2 hours", "1 day", "45 minutes"."""
    for size, unit in ((24 * 60, "day"), (60, "hour")):
        if minutes and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def rules_text(availability: Availability) -> tuple[str, ...]:
    durations = [str(d) for d in availability.durations]
    offered = durations[0] if len(durations) == 1 else ", ".join(durations[:-1])
    if len(durations) > 1:
        offered += f" or {durations[-1]}"
    rules = [
        f"Sessions of {offered} minutes.",
        "Book at least "
        + (
            f"{amount(availability.min_notice_minutes)} ahead."
            if availability.min_notice_minutes
            else "a moment ahead."
        ),
        f"Bookable up to {amount(availability.horizon_days * 24 * 60)} ahead.",
    ]
    if availability.buffer_minutes:
        rules.append(f"{amount(availability.buffer_minutes)} kept free between sessions.")
    return tuple(rules)


def exceptions_text(availability: Availability, today: date) -> tuple[str, ...]:
    """The next few dates (from ``today``, the mentor's local date) off the weekly pattern."""
    coming = [e for e in availability.exceptions if e.day >= today][:EXCEPTIONS_SHOWN]
    return tuple(
        f"{e.day:%a %d %b %Y}: " + (ranges_text(e.ranges) if e.ranges else "day off")
        for e in coming
    )


def zone_or(name: str, fallback: str) -> ZoneInfo:
    """The zone ``name``, or ``fallback`` when ``name`` is empty or unknown."""
    for candidate in (name, fallback, "UTC"):
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def free_times(starts: Sequence[datetime], zone: ZoneInfo) -> tuple[FreeTime, ...]:
    return tuple(
        FreeTime(
            iso=s.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            label=f"{s.astimezone(zone):%a %d %b, %H:%M}",
        )
        for s in starts[:NEXT_SLOTS]
    )


def summarize(
    availability: Availability,
    next_starts: Sequence[datetime],
    reader_zone: str,
    now: datetime,
) -> AvailabilitySummary:
    """Everything the page's availability section says. Free times are shown in
    ``reader_zone`` when it is a known zone, else in the mentor's."""
    mentor_zone = zone_or(availability.time_zone, "UTC")
    shown_zone = zone_or(reader_zone, availability.time_zone)
    return AvailabilitySummary(
        weekly=weekly_text(availability),
        rules=rules_text(availability),
        exceptions=exceptions_text(availability, now.astimezone(mentor_zone).date()),
        next_slots=free_times(next_starts, shown_zone),
        slots_zone=shown_zone.key,
    )
