"""Sign-ins and bookings per hour on this node, for the operator console: 24 hourly buckets
in memory (the Prometheus counters carry the totals for longer views)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

HOURS_KEPT = 24


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class HourlyActivity:
    def __init__(self) -> None:
        self._counts: dict[str, Counter[datetime]] = {"signins": Counter(), "bookings": Counter()}

    def record(self, kind: str, now: datetime | None = None) -> None:
        hour = hour_of(now or datetime.now(UTC))
        counts = self._counts[kind]
        counts[hour] += 1
        oldest = hour - timedelta(hours=HOURS_KEPT)
        for old in [h for h in counts if h <= oldest]:
            del counts[old]

    def hours(self, now: datetime | None = None) -> list[tuple[datetime, int, int]]:
        """(hour, sign-ins, bookings) of the last 24 hours, oldest first."""
        current = hour_of(now or datetime.now(UTC))
        rows = []
        for back in range(HOURS_KEPT - 1, -1, -1):
            hour = current - timedelta(hours=back)
            rows.append((hour, self._counts["signins"][hour], self._counts["bookings"][hour]))
        return rows
