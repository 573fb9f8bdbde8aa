"""What each person's invitation says, read back with the icalendar library.

Both copies of a REQUEST or CANCEL are one event: the mentor is the ORGANIZER and the
accepted CHAIR attendee, the mentee a REQ-PARTICIPANT, with the same UID, SEQUENCE, time and
method. The subscribed feed is a calendar with no METHOD (not a scheduling message), and a
PUBLISH never carries ATTENDEE (RFC 5546 3.2.1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from store.models import MailKind, Profile, Session
from web.mail import ics
from web.mail.messages import MailSite, session_change_mail, session_event

MENTOR = "ana@example.org"
MENTEE = "ben@example.org"
START = datetime(2031, 3, 9, 14, 30, tzinfo=UTC)
NOW = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
SITE = MailSite(base_url="https://m.example.org", uid_host="m.example.org")
PROFILES = {MENTOR: Profile(email=MENTOR, name="Ana"), MENTEE: Profile(email=MENTEE, name="Ben")}


def session() -> Session:
    return Session(
        session_id="abc",
        mentor_email=MENTOR,
        mentee_email=MENTEE,
        scheduled_at=START,
        duration=45,
        topic="Interviews",
    )


def only_event(text: str) -> tuple[icalendar.Calendar, Any]:
    cal = icalendar.Calendar.from_ical(text)
    [event] = cal.walk("VEVENT")
    return cal, event


def attendees(event: Any) -> dict[str, Any]:
    found = event.get("ATTENDEE", [])
    found = found if isinstance(found, list) else [found]
    return {str(a).removeprefix("mailto:"): a.params for a in found}


@pytest.mark.parametrize(
    ("change", "sequence", "method"),
    [
        (MailKind.BOOKED, 0, "REQUEST"),
        (MailKind.RESCHEDULED, 1, "REQUEST"),
        (MailKind.CANCELLED, 2, "CANCEL"),
    ],
)
def test_both_people_get_one_event_naming_both(
    change: MailKind, sequence: int, method: str
) -> None:
    built = session_change_mail(
        change,
        session(),
        sequence=sequence,
        site=SITE,
        profiles=PROFILES,
        now=NOW,
        actor=MENTEE,
        reason="Ill" if change is MailKind.CANCELLED else None,
        previous_start=START - timedelta(days=1) if change is MailKind.RESCHEDULED else None,
    )
    copies = {m.recipient: m for m in built if m.kind is change}
    assert set(copies) == {MENTOR, MENTEE}
    parsed = {}
    for recipient, message in copies.items():
        assert message.ics is not None and message.ics_method == method
        cal, event = only_event(message.ics)
        assert cal["METHOD"] == method
        assert str(event["ORGANIZER"]) == f"mailto:{MENTOR}"
        parsed[recipient] = event

    expected = "NEEDS-ACTION" if method == "REQUEST" else "ACCEPTED"
    for copy in parsed.values():
        people = attendees(copy)
        assert set(people) == {MENTOR, MENTEE}
        assert people[MENTOR]["ROLE"] == "CHAIR" and people[MENTOR]["PARTSTAT"] == "ACCEPTED"
        assert people[MENTEE]["ROLE"] == "REQ-PARTICIPANT"
        assert people[MENTEE]["PARTSTAT"] == expected

    # One event in two calendars: the same UID, SEQUENCE, time and status in both copies.
    for field in ("UID", "SEQUENCE", "DTSTART", "DTEND", "STATUS"):
        assert parsed[MENTOR].decoded(field) == parsed[MENTEE].decoded(field), field
    assert int(parsed[MENTOR]["SEQUENCE"]) == sequence


def test_a_feed_calendar_has_no_method_and_keeps_the_people() -> None:
    event = session_event(session(), 3, SITE, PROFILES, NOW)
    text = ics.calendar([event], None, name="Pana Mia Live sessions")
    assert "METHOD" not in text
    cal, parsed = only_event(text)
    assert "METHOD" not in cal
    assert str(cal["X-WR-CALNAME"]) == "Pana Mia Live sessions"
    assert set(attendees(parsed)) == {MENTOR, MENTEE}
    assert str(parsed["ORGANIZER"]) == f"mailto:{MENTOR}"
    assert int(parsed["SEQUENCE"]) == 3


def test_a_publish_carries_no_attendee() -> None:
    event = session_event(session(), 0, SITE, PROFILES, NOW)
    cal, parsed = only_event(ics.calendar([event], ics.Method.PUBLISH))
    assert cal["METHOD"] == "PUBLISH"
    assert "ATTENDEE" not in parsed
    assert str(parsed["ORGANIZER"]) == f"mailto:{MENTOR}"
