"""Scheduling on SQLite: a mentor's availability and moving a session.

A move is one ``BEGIN IMMEDIATE`` transaction: the session's cell claims are deleted, the
claims of the new time inserted, the session updated (new times, ``sequence + 1``, one more
history entry) and the move's messages added to the outbox. If any new claim collides with
another session's, the primary key of ``slot_claims`` raises and the whole transaction rolls
back: the session keeps its old time and its old claims, and no message is queued. No other
writer can see a state where both or neither are held.
"""

# ruff: noqa: S608  (SQL assembled from constant column lists; values are bound parameters)

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from store.base import NotFound, NotScheduled, SlotTaken
from store.codec import (
    change_to_text_doc,
    email_key,
    mail_fits_move,
    to_text,
    utc_ms,
)
from store.models import (
    Availability,
    OutboxMessage,
    Profile,
    Session,
    SessionChange,
    SessionStatus,
    utcnow,
)
from store.outbox_sqlite import insert_outbox
from store.sqlite_access import SqliteAccess
from store.sqlite_rows import (
    INSERT_CLAIM,
    PROFILE_COLUMNS,
    SESSION_COLUMNS,
    availability_text,
    claim_rows,
    profile_from_row,
    session_from_row,
)


class SqliteSchedule(SqliteAccess):
    """Mixed into :class:`store.sqlite.SqliteStore`, which provides ``_write``."""

    async def set_availability(self, email: str, availability: Availability | None) -> Profile:
        key = email_key(email)
        values = (availability_text(availability), to_text(utcnow()), key)

        def update(conn: sqlite3.Connection) -> Profile:
            row = conn.execute(
                "UPDATE profiles SET availability = ?, updated_at = ? WHERE email = ?"
                f" RETURNING {PROFILE_COLUMNS}",
                values,
            ).fetchone()
            if row is None:
                raise NotFound(f"no profile for {key}")
            return profile_from_row(row)

        return await self._write(update)

    async def reschedule_session(
        self,
        session_id: str,
        by: str,
        new_start: datetime,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
    ) -> Session:
        start, at, who = utc_ms(new_start), utc_ms(now), email_key(by)

        def move(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no session {session_id}")
            old = session_from_row(row)
            if old.status is not SessionStatus.SCHEDULED or old.scheduled_at <= at:
                raise NotScheduled(f"session {session_id} is not upcoming")
            if not mail_fits_move(outbox, session_id, old.sequence + 1):
                raise NotScheduled(f"session {session_id} changed meanwhile")
            change = SessionChange(by=who, at=at, from_start=old.scheduled_at, to_start=start)
            history = [change_to_text_doc(c) for c in (*old.history, change)]
            conn.execute("DELETE FROM slot_claims WHERE session_id = ?", (session_id,))
            claims = claim_rows(old.mentor_email, old.mentee_email, start, old.duration, session_id)
            try:
                conn.executemany(INSERT_CLAIM, claims)
            except sqlite3.IntegrityError as exc:
                raise SlotTaken("the new time is taken") from exc
            moved = conn.execute(
                "UPDATE sessions SET scheduled_at = ?, ends_at = ?, updated_at = ?,"
                " sequence = sequence + 1, history = ? WHERE session_id = ?"
                f" RETURNING {SESSION_COLUMNS}",
                (
                    to_text(start),
                    to_text(change.to_start + (old.ends_at - old.scheduled_at)),
                    to_text(at),
                    json.dumps(history, separators=(",", ":")),
                    session_id,
                ),
            ).fetchone()
            insert_outbox(conn, outbox)
            return session_from_row(moved)

        return await self._write(move)
