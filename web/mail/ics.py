"""A small iCalendar writer (RFC 5545) for invitations (RFC 5546) and the calendar feed.

Only what the app needs: VCALENDAR with VEVENTs, text escaping, UTC times and line folding
at 75 octets with CRLF line ends. Written here rather than taken from a library so the output
is exactly what we test (the tests parse it with the ``icalendar`` library).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

PRODID = "-//Pana Mia Live//Mentoring//EN"


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"
    PUBLISH = "PUBLISH"


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""


@dataclass(frozen=True)
class Event:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    url: str
    organizer: Person
    attendees: Sequence[Person]
    stamp: datetime
    cancelled: bool = False


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11); other control characters, which TEXT does not
    allow, are dropped."""
    kept = "".join(c for c in value if c in "\r\n" or (ord(c) >= 32 and ord(c) != 127))
    return (
        kept.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _param(value: str) -> str:
    """A parameter value: quoted, with characters a quoted string cannot hold removed."""
    return '"' + "".join(c for c in value if c not in '"\r\n' and ord(c) >= 32) + '"'


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, never inside a UTF-8
    character; continuation lines start with one space (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    chunk = ""
    size = 0
    limit = 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(chunk)
            chunk, size, limit = "", 0, 74  # the leading space counts
        chunk += char
        size += width
    parts.append(chunk)
    return "\r\n ".join(parts) + "\r\n"


def _person(name: str, person: Person, params: Iterable[str] = ()) -> str:
    extra = "".join(f";{p}" for p in params)
    cn = f";CN={_param(person.name)}" if person.name else ""
    return f"{name}{cn}{extra}:mailto:{person.email}"


def _event_lines(event: Event, method: Method | None) -> list[str]:
    cancelled = event.cancelled or method is Method.CANCEL
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{utc_stamp(event.stamp)}",
        f"DTSTART:{utc_stamp(event.start)}",
        f"DTEND:{utc_stamp(event.end)}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"DESCRIPTION:{escape_text(event.description)}",
        f"URL:{event.url}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        _person("ORGANIZER", event.organizer),
    ]
    partstat = "NEEDS-ACTION" if method is Method.REQUEST else "ACCEPTED"
    # RFC 5546 3.2.1: a PUBLISH carries no ATTENDEE (nobody is being asked anything).
    for attendee in () if method is Method.PUBLISH else event.attendees:
        accepted = attendee.email == event.organizer.email
        lines.append(
            _person(
                "ATTENDEE",
                attendee,
                (
                    "CUTYPE=INDIVIDUAL",
                    "ROLE=CHAIR" if accepted else "ROLE=REQ-PARTICIPANT",
                    f"PARTSTAT={'ACCEPTED' if accepted else partstat}",
                    "RSVP=FALSE",
                ),
            )
        )
    lines.append("END:VEVENT")
    return lines


def calendar(events: Sequence[Event], method: Method | None, name: str | None = None) -> str:
    """A whole VCALENDAR object as text with CRLF line ends.

    ``method`` makes it a scheduling message (RFC 5546) for an e-mail attachment; None makes
    it a plain calendar with no METHOD, as a subscribed feed is: a copy of someone's
    calendar, not a request to anyone (CalDAV, RFC 4791 4.1, likewise keeps METHOD out of
    stored calendar data)."""
    lines = ["BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0", "CALSCALE:GREGORIAN"]
    if method is not None:
        lines.append(f"METHOD:{method.value}")
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for event in events:
        lines += _event_lines(event, method)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
