"""Booking, listing and cancelling sessions on SQLite: a mixin of
:class:`store.sqlite.SqliteStore`.

Double booking is prevented by the ``slot_claims`` primary key (e-mail, 30-minute cell):
a booking inserts the session and all its claims in one transaction, so an overlapping
booking fails with an IntegrityError and rolls back as a whole.
"""

# S608: SQL text here is assembled from constant fragments only (column lists, "?" marks,
# fixed WHERE clauses); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from store.base import Conflict, NotFound, NotScheduled, RoleFilter, SessionChanged
from store.codec import (
    cancel_guard,
    email_key,
    from_text,
    normalise_session,
    to_text,
)
from store.models import OutboxMessage, Session, SessionStatus, utcnow
from store.outbox_sqlite import insert_outbox
from store.sqlite_access import SqliteAccess
from store.sqlite_rows import (
    INSERT_CLAIM,
    SESSION_COLUMNS,
    claim_rows,
    marks,
    session_from_row,
    session_row,
)


class SqliteSessions(SqliteAccess):
    async def create_session(
        self, session: Session, outbox: Sequence[OutboxMessage] = ()
    ) -> Session:
        stored = normalise_session(session)
        values = session_row(stored)
        claims = claim_rows(
            stored.mentor_email,
            stored.mentee_email,
            stored.scheduled_at,
            stored.duration,
            stored.session_id,
        )
        if stored.status is not SessionStatus.SCHEDULED:
            claims = []  # a past or cancelled session (imported history) holds no slot

        def book(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks(15)})", values)
            if claims:
                conn.executemany(INSERT_CLAIM, claims)
            insert_outbox(conn, outbox)

        try:
            await self._write(book)
        except sqlite3.IntegrityError as exc:
            raise Conflict("the time slot is taken or the session exists") from exc
        return stored

    async def get_session(self, session_id: str) -> Session | None:
        def get(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            return None if row is None else session_from_row(row)

        return await self._run(get)

    async def list_sessions(
        self,
        email: str,
        role: RoleFilter = RoleFilter.ALL,
        status: SessionStatus | None = None,
        now: datetime | None = None,
    ) -> list[Session]:
        key = email_key(email)
        where: list[str] = []
        params: list[Any] = []
        if role is RoleFilter.MENTOR:
            where.append("mentor_email = ?")
            params.append(key)
        elif role is RoleFilter.MENTEE:
            where.append("mentee_email = ?")
            params.append(key)
        else:
            where.append("(mentor_email = ? OR mentee_email = ?)")
            params += [key, key]
        if status is not None:
            at = to_text(now or utcnow())
            if status is SessionStatus.SCHEDULED:
                where.append("status = 'scheduled' AND ends_at > ?")
                params.append(at)
            elif status is SessionStatus.COMPLETED:
                where.append("(status = 'completed' OR (status = 'scheduled' AND ends_at <= ?))")
                params.append(at)
            else:
                where.append("status = ?")
                params.append(status.value)
        clause = " AND ".join(where)

        def find(conn: sqlite3.Connection) -> list[Session]:
            rows = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {clause}"
                " ORDER BY scheduled_at DESC, session_id",
                params,
            ).fetchall()
            return [session_from_row(r) for r in rows]

        return await self._run(find)

    async def busy_intervals(
        self,
        emails: list[str],
        start: datetime,
        end: datetime,
        exclude_session_id: str | None = None,
    ) -> list[tuple[datetime, datetime]]:
        keys = sorted({email_key(e) for e in emails})
        if not keys:
            return []
        people = marks(len(keys))

        def find(conn: sqlite3.Connection) -> list[tuple[datetime, datetime]]:
            rows = conn.execute(
                "SELECT scheduled_at, ends_at FROM sessions WHERE status = 'scheduled'"
                " AND scheduled_at < ? AND ends_at > ? AND session_id <> ?"
                f" AND (mentor_email IN ({people}) OR mentee_email IN ({people}))"
                " ORDER BY scheduled_at, ends_at",
                (to_text(end), to_text(start), exclude_session_id or "", *keys, *keys),
            ).fetchall()
            return [(from_text(r[0]), from_text(r[1])) for r in rows]

        return await self._run(find)

    async def update_notes(self, session_id: str, notes: str, now: datetime) -> Session:
        at = to_text(now)

        def update(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                f"UPDATE sessions SET notes = ?, updated_at = ? WHERE session_id = ?"
                f" RETURNING {SESSION_COLUMNS}",
                (notes, at, session_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"no session {session_id}")
            return session_from_row(row)

        return await self._write(update)

    async def cancel_session(
        self,
        session_id: str,
        cancelled_by: str,
        reason: str,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
        *,
        expected_sequence: int | None = None,
        expected_start: datetime | None = None,
    ) -> Session:
        at = to_text(now)
        by = email_key(cancelled_by)
        # Only at the sequence (and start) the caller read, so its notices describe this
        # session and not one a move changed meanwhile (see Store.cancel_session).
        guard = ""
        guard_args: list[object] = []
        sequence = cancel_guard(outbox, session_id, expected_sequence)
        if sequence is not None:
            guard += " AND sequence = ?"
            guard_args.append(sequence)
        if expected_start is not None:
            guard += " AND scheduled_at = ?"
            guard_args.append(to_text(expected_start))

        def cancel(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                "UPDATE sessions SET status = 'cancelled', cancelled_by = ?, cancel_reason = ?,"
                " updated_at = ?, sequence = sequence + 1"
                " WHERE session_id = ? AND status = 'scheduled' AND ends_at > ?"
                f"{guard} RETURNING {SESSION_COLUMNS}",
                (by, reason, at, session_id, at, *guard_args),
            ).fetchone()
            if row is None:
                current = conn.execute(
                    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if current is None:
                    raise NotFound(f"no session {session_id}")
                found = session_from_row(current)
                if found.status is SessionStatus.SCHEDULED and found.ends_at > now:
                    raise SessionChanged(f"session {session_id} changed since it was read", found)
                raise NotScheduled(f"session {session_id} is not scheduled")
            conn.execute("DELETE FROM slot_claims WHERE session_id = ?", (session_id,))
            insert_outbox(conn, outbox)
            return session_from_row(row)

        return await self._write(cancel)
