"""Small conversions both backends share, so they store and return identical values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from store.models import (
    Availability,
    DateException,
    OutboxMessage,
    Session,
    SessionChange,
    TimeRange,
    slot_cells,
)
from store.zones import canonical_time_zone


def utc_ms(value: datetime) -> datetime:
    """``value`` as aware UTC truncated to milliseconds (MongoDB's precision).

    Naive datetimes are refused: every datetime in the store is aware UTC, and guessing the
    zone of a naive one would silently shift bookings.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware values")
    value = value.astimezone(UTC)
    return value.replace(microsecond=(value.microsecond // 1000) * 1000, tzinfo=UTC)


def to_text(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text that sorts like the instant: '2026-11-23T09:00:00.000Z'."""
    v = utc_ms(value)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


def from_text(text: str) -> datetime:
    """Inverse of :func:`to_text`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def from_mongo(value: datetime) -> datetime:
    """A datetime read by PyMongo (``tz_aware=True``) with the standard ``UTC`` tzinfo."""
    if value.tzinfo is None:  # a client without tz_aware: PyMongo returns naive UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def email_key(email: str) -> str:
    """E-mail addresses are stored and compared lower-cased."""
    return email.strip().lower()


def fold(text: str) -> str:
    """Case-folded text for case-insensitive search (Unicode-aware, unlike SQLite LIKE)."""
    return text.casefold()


def fold_tags(tags: Iterable[str]) -> list[str]:
    return [fold(tag) for tag in tags]


def claim_keys(
    mentor_email: str, mentee_email: str, start: datetime, duration: int
) -> list[tuple[str, datetime]]:
    """Every (e-mail, 30-minute cell) a booking holds, sorted and without repeats.

    The sorted order matters for backends without transactions: concurrent bookings that
    share a cell claim their common cells in the same order, so one of them always wins.
    """
    cells = slot_cells(utc_ms(start), duration)
    people = {email_key(mentor_email), email_key(mentee_email)}
    return sorted((email, cell) for email in people for cell in cells)


def normalise_session(s: Session) -> Session:
    """The session as the store keeps it: lower-cased e-mails, millisecond UTC times."""
    return replace(
        s,
        mentor_email=email_key(s.mentor_email),
        mentee_email=email_key(s.mentee_email),
        scheduled_at=utc_ms(s.scheduled_at),
        cancelled_by=None if s.cancelled_by is None else email_key(s.cancelled_by),
        created_at=utc_ms(s.created_at),
        updated_at=utc_ms(s.updated_at),
    )


# --- availability and session history as plain JSON-able values ------------------------
def availability_to_doc(a: Availability) -> dict[str, Any]:
    """Availability as a plain dict (SQLite keeps it as JSON text, MongoDB as a document)."""
    return {
        "timeZone": a.time_zone,
        "weekly": [[[r.start_minute, r.end_minute] for r in day] for day in a.weekly],
        "exceptions": [
            {"day": e.day.isoformat(), "ranges": [[r.start_minute, r.end_minute] for r in e.ranges]}
            for e in a.exceptions
        ],
        "bufferMinutes": a.buffer_minutes,
        "minNoticeMinutes": a.min_notice_minutes,
        "horizonDays": a.horizon_days,
        "durations": list(a.durations),
    }


def _ranges(raw: list[list[int]]) -> tuple[TimeRange, ...]:
    return tuple(TimeRange(int(start), int(end)) for start, end in raw)


def availability_from_doc(d: dict[str, Any]) -> Availability:
    return Availability(
        time_zone=canonical_time_zone(str(d["timeZone"])),
        weekly=tuple(_ranges(day) for day in d["weekly"]),
        exceptions=tuple(
            DateException(date.fromisoformat(e["day"]), _ranges(e["ranges"]))
            for e in d["exceptions"]
        ),
        buffer_minutes=int(d["bufferMinutes"]),
        min_notice_minutes=int(d["minNoticeMinutes"]),
        horizon_days=int(d["horizonDays"]),
        durations=tuple(int(x) for x in d["durations"]),
    )


def change_to_text_doc(c: SessionChange) -> dict[str, str]:
    """A history entry with ISO text times (SQLite's JSON column)."""
    return {
        "by": c.by,
        "at": to_text(c.at),
        "from": to_text(c.from_start),
        "to": to_text(c.to_start),
    }


def change_from_text_doc(d: dict[str, str]) -> SessionChange:
    return SessionChange(
        by=d["by"],
        at=from_text(d["at"]),
        from_start=from_text(d["from"]),
        to_start=from_text(d["to"]),
    )


def mail_fits_move(messages: Sequence[OutboxMessage], session_id: str, sequence: int) -> bool:
    """Whether the messages of a move were built for the move the store is about to make.

    The caller builds a move's mail from the session as it read it, with the sequence the
    move will give it. If another move or a cancel got in between, that sequence is already
    taken (and so are the message ids derived from it): the move must fail rather than store
    mail that describes a different change, or none at all.
    """
    return all(m.sequence == sequence for m in messages if m.session_id == session_id)


def mail_sequence(messages: Sequence[OutboxMessage], session_id: str) -> int | None:
    """The sequence a change's mail was built for (the session's sequence after the change),
    or None when no message is about ``session_id``. A cancel guards on it as a move does
    with :func:`mail_fits_move`: mail built from a session read before another change got in
    must not go out for this one."""
    sequences = {m.sequence for m in messages if m.session_id == session_id}
    if not sequences:
        return None
    if len(sequences) > 1:
        raise ValueError(f"mail for session {session_id} mixes sequences {sorted(sequences)}")
    return sequences.pop()


def cancel_guard(
    messages: Sequence[OutboxMessage], session_id: str, expected_sequence: int | None
) -> int | None:
    """The sequence a cancel must find the session at: the one the caller read, or, when it
    gives none, the one its mail was built from (the mail's sequence minus one); None when
    neither says."""
    after = mail_sequence(messages, session_id)
    from_mail = None if after is None else after - 1
    if expected_sequence is None:
        return from_mail
    if from_mail is not None and from_mail != expected_sequence:
        raise ValueError(
            f"cancel of {session_id}: mail built for sequence {after}, but the session was"
            f" read at {expected_sequence}"
        )
    return expected_sequence
