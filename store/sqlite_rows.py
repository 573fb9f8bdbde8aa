"""SQLite rows <-> store models: the column lists and the conversions both ways.

Conventions (see store/migrations/sqlite.py): datetimes are fixed-width ISO-8601 UTC text,
tags are JSON arrays, availability and a session's history are JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from store.codec import (
    availability_from_doc,
    availability_to_doc,
    change_from_text_doc,
    change_to_text_doc,
    claim_keys,
    email_key,
    fold,
    fold_tags,
    from_text,
    to_text,
)
from store.models import (
    Availability,
    MentoringProfile,
    Profile,
    Session,
    SessionChange,
    SessionStatus,
)
from store.zones import canonical_time_zone

PROFILE_COLUMNS = (
    "email, name, name_key, avatar_url, time_zone, mentoring_enabled, bio, expertise, languages,"
    " expertise_search, languages_search, video_intro_url, goals, hourly_rate, created_at,"
    " updated_at, availability"
)
SESSION_COLUMNS = (
    "session_id, mentor_email, mentee_email, scheduled_at, ends_at, duration, topic, status,"
    " notes, cancelled_by, cancel_reason, created_at, updated_at, sequence, history"
)
INSERT_CLAIM = "INSERT INTO slot_claims (email, cell, session_id) VALUES (?, ?, ?)"


def claim_rows(
    mentor_email: str, mentee_email: str, start: datetime, duration: int, session_id: str
) -> list[tuple[str, str, str]]:
    """The ``slot_claims`` rows of a session at ``start``: one per person and 30-minute cell
    (their primary key is the double-booking guard)."""
    return [
        (email, to_text(cell), session_id)
        for email, cell in claim_keys(mentor_email, mentee_email, start, duration)
    ]


def marks(n: int) -> str:
    return ", ".join("?" * n)


def mentoring_values(m: MentoringProfile) -> tuple[Any, ...]:
    return (
        int(m.enabled),
        m.bio,
        json.dumps(list(m.expertise), ensure_ascii=False),
        json.dumps(list(m.languages), ensure_ascii=False),
        json.dumps(fold_tags(m.expertise), ensure_ascii=False),
        json.dumps(fold_tags(m.languages), ensure_ascii=False),
        m.video_intro_url,
        m.goals,
        float(m.hourly_rate),
    )


def profile_row(p: Profile) -> tuple[Any, ...]:
    m = mentoring_values(p.mentoring)
    return (
        email_key(p.email),
        p.name,
        fold(p.name),
        p.avatar_url,
        p.time_zone,
        *m,
        to_text(p.created_at),
        to_text(p.updated_at),
        availability_text(p.availability),
    )


def profile_from_row(row: sqlite3.Row) -> Profile:
    return Profile(
        email=row["email"],
        name=row["name"],
        avatar_url=row["avatar_url"],
        time_zone=canonical_time_zone(row["time_zone"]),
        mentoring=MentoringProfile(
            enabled=bool(row["mentoring_enabled"]),
            bio=row["bio"],
            expertise=tuple(json.loads(row["expertise"])),
            languages=tuple(json.loads(row["languages"])),
            video_intro_url=row["video_intro_url"],
            goals=row["goals"],
            hourly_rate=float(row["hourly_rate"]),
        ),
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        availability=(
            None
            if row["availability"] is None
            else availability_from_doc(json.loads(row["availability"]))
        ),
    )


def session_row(s: Session) -> tuple[Any, ...]:
    return (
        s.session_id,
        s.mentor_email,
        s.mentee_email,
        to_text(s.scheduled_at),
        to_text(s.ends_at),
        s.duration,
        s.topic,
        s.status.value,
        s.notes,
        s.cancelled_by,
        s.cancel_reason,
        to_text(s.created_at),
        to_text(s.updated_at),
        s.sequence,
        history_text(s.history),
    )


def session_from_row(row: sqlite3.Row) -> Session:
    return Session(
        session_id=row["session_id"],
        mentor_email=row["mentor_email"],
        mentee_email=row["mentee_email"],
        scheduled_at=from_text(row["scheduled_at"]),
        duration=int(row["duration"]),
        topic=row["topic"],
        status=SessionStatus(row["status"]),
        notes=row["notes"],
        cancelled_by=row["cancelled_by"],
        cancel_reason=row["cancel_reason"],
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        sequence=int(row["sequence"]),
        history=tuple(change_from_text_doc(d) for d in json.loads(row["history"])),
    )


def availability_text(availability: Availability | None) -> str | None:
    """NULL means "never set": the default hours in the profile's zone."""
    if availability is None:
        return None
    return json.dumps(availability_to_doc(availability), separators=(",", ":"))


def history_text(history: tuple[SessionChange, ...]) -> str:
    return json.dumps([change_to_text_doc(c) for c in history], separators=(",", ":"))
