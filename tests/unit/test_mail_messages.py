"""The ICS writer (escaping, folding), the message builders and the mail settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar

from config.loader import build_settings
from config.settings import Settings
from store.models import MailKind, Profile, Session
from web.mail import ics
from web.mail.messages import ROOM_PATH, MailSite, session_change_mail
from web.room import ROOM_PATH as ROOM_ROUTE

START = datetime(2031, 3, 9, 14, 30, tzinfo=UTC)
NOW = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)


def session(topic: str = "Interviews") -> Session:
    return Session(
        session_id="abc",
        mentor_email="ana@example.org",
        mentee_email="ben@example.org",
        scheduled_at=START,
        duration=45,
        topic=topic,
    )


def test_lines_are_folded_at_75_octets_without_splitting_characters() -> None:
    line = "DESCRIPTION:" + "ñandú 🦤 " * 40
    folded = ics.fold(line)
    assert folded.endswith("\r\n")
    physical = folded[:-2].split("\r\n")
    assert all(len(p.encode()) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    assert "".join([physical[0], *(p[1:] for p in physical[1:])]) == line


def test_text_is_escaped_and_survives_a_parser() -> None:
    tricky = 'Comma, semicolon; back\\slash\nnew line "quoted"'
    event = ics.Event(
        uid="u@h",
        sequence=2,
        start=START,
        end=START + timedelta(minutes=30),
        summary=tricky,
        description=tricky * 5,
        url="http://h/x",
        organizer=ics.Person("ana@example.org", 'Ana "A" López'),
        attendees=(ics.Person("ana@example.org"), ics.Person("ben@example.org", "Ben")),
        stamp=NOW,
    )
    text = ics.calendar([event], ics.Method.REQUEST)
    assert "\n" not in text.replace("\r\n", "")
    parsed: Any = icalendar.Calendar.from_ical(text)
    [vevent] = parsed.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == tricky
    assert str(vevent["DESCRIPTION"]) == tricky * 5
    assert vevent["ORGANIZER"].params["CN"] == "Ana A López"
    assert int(vevent["SEQUENCE"]) == 2
    assert vevent.decoded("DTSTART") == START


def test_a_booking_sends_two_notices_and_four_reminders() -> None:
    profiles = {"ana@example.org": Profile(email="ana@example.org", time_zone="Europe/Madrid")}
    site = MailSite(base_url="https://m.example.org", uid_host="m.example.org")
    built = session_change_mail(
        MailKind.BOOKED, session(), sequence=0, site=site, profiles=profiles, now=NOW
    )
    kinds = [m.kind for m in built]
    assert kinds.count(MailKind.BOOKED) == 2 and kinds.count(MailKind.REMINDER) == 4
    assert len({m.message_id for m in built}) == 6
    to_ana = next(m for m in built if m.kind is MailKind.BOOKED and m.recipient.startswith("ana"))
    assert "15:30 (Europe/Madrid), 14:30 UTC" in to_ana.text
    assert "https://m.example.org/mentoring/session/abc" in to_ana.text
    assert to_ana.ics is not None and "UID:abc@m.example.org" in to_ana.ics
    # A higher sequence (a reschedule) gets reminders of its own.
    moved = session_change_mail(
        MailKind.RESCHEDULED, session(), sequence=1, site=site, profiles={}, now=NOW
    )
    assert not {m.message_id for m in moved} & {m.message_id for m in built}


def test_reminders_already_past_are_left_out() -> None:
    site = MailSite(base_url="http://x")
    soon = START - timedelta(minutes=20)
    built = session_change_mail(
        MailKind.BOOKED, session(), sequence=0, site=site, profiles={}, now=soon
    )
    assert [m.due_at for m in built if m.kind is MailKind.REMINDER] == [
        START - timedelta(minutes=15)
    ] * 2


def test_the_room_link_is_the_room_route() -> None:
    assert ROOM_PATH == ROOM_ROUTE


def test_deprecated_auth_smtp_options_still_configure_mail() -> None:
    legacy = build_settings(
        {"auth": {"smtp_host": "mx.example.org", "smtp_port": 465, "mail_from": "A <a@x.org>"}}
    )
    assert legacy.smtp.smtp_host == "mx.example.org"
    assert legacy.smtp.tls == "tls" and legacy.smtp.from_address == "A <a@x.org>"
    both = build_settings(
        {"auth": {"smtp_host": "old.example.org"}, "mail": {"smtp_host": "new.example.org"}}
    )
    assert both.smtp.smtp_host == "new.example.org"
    assert Settings().smtp.smtp_host == ""


def test_ics_text_drops_control_characters_and_escapes_line_breaks() -> None:
    assert ics.escape_text("Ill\x07 today;\r\nsorry\x1b, \x7fbye") == "Ill today\\;\\nsorry\\, bye"
