"""A session's changes in words, for its details page: who moved it, when, from and to, in
the reader's zone with the zone named, and a status line that knows about the moves.

Pure formatting; :mod:`web.pages.session_details` supplies the names and the zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.models import Session, SessionStatus
from web.pages.availability_summary import zone_or


@dataclass(frozen=True)
class Moment:
    """A time as the page shows it: ISO UTC for ``<time datetime>`` and the local text."""

    iso: str
    text: str


@dataclass(frozen=True)
class ChangeRow:
    by: str
    at: Moment
    from_start: Moment
    to_start: Moment


def moment(value: datetime, zone: ZoneInfo) -> Moment:
    """``value`` in ``zone``, with the zone named: "Mon 07 Dec 2026, 10:00 (Europe/Madrid)"."""
    local = value.astimezone(zone)
    return Moment(
        iso=value.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        text=f"{local:%a %d %b %Y, %H:%M} ({zone.key})",
    )


def person(email: str, viewer_email: str, names: Mapping[str, str]) -> str:
    return "you" if email == viewer_email else names.get(email, email)


def change_rows(
    session: Session, viewer_email: str, names: Mapping[str, str], zone: ZoneInfo
) -> list[ChangeRow]:
    """The session's moves, oldest first."""
    return [
        ChangeRow(
            by=person(change.by, viewer_email, names),
            at=moment(change.at, zone),
            from_start=moment(change.from_start, zone),
            to_start=moment(change.to_start, zone),
        )
        for change in session.history
    ]


def times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def status_text(
    session: Session,
    now: datetime,
    viewer_email: str,
    names: Mapping[str, str],
    zone: ZoneInfo,
) -> str:
    """One sentence on where the session stands, counting its moves (the calendar
    invitation's update number is the session's sequence)."""
    moves = len(session.history)
    status = session.effective_status(now)
    if status is SessionStatus.CANCELLED:
        who = person(session.cancelled_by, viewer_email, names) if session.cancelled_by else ""
        text = f"Cancelled by {who}" if who else "Cancelled"
        if moves:
            text += f", after being moved {times(moves)}"
        return text + ". The calendar invitation was withdrawn."
    if status is SessionStatus.COMPLETED:
        text = "This session has taken place"
        return text + (f"; it was moved {times(moves)} beforehand." if moves else ".")
    if not moves:
        return "Scheduled at the time it was booked."
    last = session.history[-1]
    return (
        f"Rescheduled: moved {times(moves)}, most recently by "
        f"{person(last.by, viewer_email, names)} on {moment(last.at, zone).text}. "
        f"Calendar invitations were updated (update {session.sequence})."
    )


def history_context(
    session: Session, now: datetime, viewer_email: str, viewer_zone: str, names: Mapping[str, str]
) -> dict[str, Any]:
    """What ``_session_history.html`` and the status line need, in the viewer's zone (UTC
    when theirs is unknown)."""
    zone = zone_or(viewer_zone, "UTC")
    return {
        "status_text": status_text(session, now, viewer_email, names, zone),
        "changes": change_rows(session, viewer_email, names, zone),
        "zone_name": zone.key,
    }
