"""A session's changes and status line on its details page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from store.models import Session, SessionChange, SessionStatus
from web.pages.session_history import change_rows, history_context, moment, status_text

ANA, BEN = "ana@example.org", "ben@example.org"
NAMES = {ANA: "Ana Lopez", BEN: "Ben Ode"}
BOOKED = datetime(2031, 3, 28, 9, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


def session(**changes: object) -> Session:
    base = Session(
        session_id="s1",
        mentor_email=ANA,
        mentee_email=BEN,
        scheduled_at=BOOKED,
        duration=60,
        topic="Queues",
        created_at=BOOKED - timedelta(days=5),
        updated_at=BOOKED - timedelta(days=5),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


FIRST = SessionChange(
    by=BEN,
    at=BOOKED - timedelta(days=3),
    from_start=BOOKED,
    to_start=BOOKED + timedelta(days=3),  # across Madrid's change to summer time
)
SECOND = SessionChange(
    by=ANA,
    at=BOOKED - timedelta(days=2),
    from_start=BOOKED + timedelta(days=3),
    to_start=BOOKED + timedelta(days=4),
)
MOVED = session(scheduled_at=SECOND.to_start, sequence=2, history=(FIRST, SECOND))
NOW = BOOKED - timedelta(days=1)


def test_moments_name_their_zone_and_follow_daylight_saving() -> None:
    assert moment(BOOKED, MADRID).text == "Fri 28 Mar 2031, 10:00 (Europe/Madrid)"
    after = moment(FIRST.to_start, MADRID)
    assert after.text == "Mon 31 Mar 2031, 11:00 (Europe/Madrid)"
    assert after.iso == "2031-03-31T09:00:00Z"


def test_change_rows_oldest_first_with_you_for_the_viewer() -> None:
    rows = change_rows(MOVED, BEN, NAMES, MADRID)
    assert [r.by for r in rows] == ["you", "Ana Lopez"]
    assert rows[0].from_start.text == "Fri 28 Mar 2031, 10:00 (Europe/Madrid)"
    assert rows[0].to_start.text == "Mon 31 Mar 2031, 11:00 (Europe/Madrid)"
    assert rows[1].at.iso == "2031-03-26T09:00:00Z"


def test_status_text_counts_moves() -> None:
    assert status_text(session(), NOW, ANA, NAMES, MADRID) == (
        "Scheduled at the time it was booked."
    )
    assert status_text(MOVED, NOW, BEN, NAMES, MADRID) == (
        "Rescheduled: moved twice, most recently by Ana Lopez on"
        " Wed 26 Mar 2031, 10:00 (Europe/Madrid). Calendar invitations were updated (update 2)."
    )
    once = session(scheduled_at=FIRST.to_start, sequence=1, history=(FIRST,))
    assert "moved once, most recently by you" in status_text(once, NOW, BEN, NAMES, MADRID)


def test_status_text_of_cancelled_and_past_sessions() -> None:
    cancelled = session(
        status=SessionStatus.CANCELLED, cancelled_by=ANA, cancel_reason="Ill", sequence=1
    )
    assert status_text(cancelled, NOW, BEN, NAMES, MADRID) == (
        "Cancelled by Ana Lopez. The calendar invitation was withdrawn."
    )
    moved_then_cancelled = session(
        status=SessionStatus.CANCELLED, cancelled_by=BEN, sequence=3, history=(FIRST, SECOND)
    )
    assert status_text(moved_then_cancelled, NOW, BEN, NAMES, MADRID) == (
        "Cancelled by you, after being moved twice. The calendar invitation was withdrawn."
    )
    later = SECOND.to_start + timedelta(days=1)
    assert status_text(MOVED, later, ANA, NAMES, MADRID) == (
        "This session has taken place; it was moved twice beforehand."
    )
    assert status_text(session(), later + timedelta(days=9), ANA, NAMES, MADRID) == (
        "This session has taken place."
    )


def test_an_unknown_viewer_zone_reads_utc() -> None:
    context = history_context(MOVED, NOW, ANA, "Nowhere/Special", NAMES)
    assert context["zone_name"] == "UTC"
    assert context["changes"][0].from_start.text == "Fri 28 Mar 2031, 09:00 (UTC)"
