"""The mail outbox on SQLite: a mixin of :class:`store.sqlite.SqliteStore`.

Every write runs in ``BEGIN IMMEDIATE`` on the store thread, so a claim (select the due rows,
lease them) is atomic across processes sharing the file. A change that reports itself by
mail calls :func:`insert_outbox` inside its own transaction: the messages exist if and only
if the change was committed.
"""

# ruff: noqa: S608 - the SQL is assembled from constant fragments; values are bound.

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from store.codec import email_key, from_text, to_text, utc_ms
from store.models import NEVER, MailKind, MailStatus, OutboxMessage
from store.sqlite_access import SqliteAccess

_COLUMNS = (
    "message_id, recipient, subject, body_text, body_html, ics, ics_method, kind, session_id,"
    " sequence, session_start, due_at, status, attempts, last_error, next_attempt_at,"
    " lease_owner, lease_expires_at, created_at, sent_at"
)
_COUNT = 20


def insert_outbox(conn: sqlite3.Connection, messages: Sequence[OutboxMessage]) -> int:
    """Insert ``messages`` (ids already queued are skipped) on ``conn``, inside the caller's
    transaction. Returns how many were new."""
    added = 0
    for message in messages:
        cursor = conn.execute(
            f"INSERT INTO mail_outbox ({_COLUMNS}) VALUES ({', '.join('?' * _COUNT)})"
            " ON CONFLICT(message_id) DO NOTHING",
            _row(message),
        )
        added += cursor.rowcount
    return added


class SqliteOutbox(SqliteAccess):
    """Outbox methods; the host class provides ``_run`` and ``_write``."""

    async def enqueue_mail(self, messages: Sequence[OutboxMessage]) -> int:
        return await self._write(lambda conn: insert_outbox(conn, messages))

    async def claim_mail(
        self, owner: str, now: datetime, lease_s: float, limit: int
    ) -> list[OutboxMessage]:
        at = to_text(now)
        until = to_text(now + timedelta(seconds=lease_s))

        def claim(conn: sqlite3.Connection) -> list[OutboxMessage]:
            rows = conn.execute(
                f"UPDATE mail_outbox SET lease_owner = ?, lease_expires_at = ?,"
                " attempts = attempts + 1 WHERE message_id IN ("
                "  SELECT message_id FROM mail_outbox WHERE status = 'pending'"
                "  AND next_attempt_at <= ? AND lease_expires_at <= ?"
                "  ORDER BY next_attempt_at, message_id LIMIT ?"
                f") RETURNING {_COLUMNS}",
                (owner, until, at, at, max(limit, 0)),
            ).fetchall()
            return sorted((_message(r) for r in rows), key=_due_order)

        return await self._write(claim)

    async def mark_mail_sent(
        self, message_id: str, owner: str, now: datetime, skipped: bool = False
    ) -> bool:
        status = MailStatus.SKIPPED if skipped else MailStatus.SENT

        def mark(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE mail_outbox SET status = ?, sent_at = ?, lease_owner = NULL,"
                " lease_expires_at = ? WHERE message_id = ? AND lease_owner = ?"
                " AND status = 'pending'",
                (status.value, to_text(now), to_text(NEVER), message_id, owner),
            )
            return cursor.rowcount == 1

        return await self._write(mark)

    async def mark_mail_retry(
        self,
        message_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        max_attempts: int,
    ) -> MailStatus | None:
        def retry(conn: sqlite3.Connection) -> MailStatus | None:
            row = conn.execute(
                "UPDATE mail_outbox SET status = CASE WHEN attempts >= ? THEN 'failed'"
                " ELSE 'pending' END, last_error = ?, next_attempt_at = ?, lease_owner = NULL,"
                " lease_expires_at = ? WHERE message_id = ? AND lease_owner = ?"
                " AND status = 'pending' RETURNING status",
                (max_attempts, error[:500], to_text(retry_at), to_text(NEVER), message_id, owner),
            ).fetchone()
            return None if row is None else MailStatus(row[0])

        return await self._write(retry)

    async def list_mail_for(self, email: str, limit: int = 50) -> list[OutboxMessage]:
        def find(conn: sqlite3.Connection) -> list[OutboxMessage]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM mail_outbox WHERE recipient = ? AND status <> 'held'"
                " ORDER BY created_at DESC, message_id LIMIT ?",
                (email_key(email), max(limit, 0)),
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._run(find)

    async def count_mail_due(self, now: datetime) -> int:
        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM mail_outbox WHERE status = 'pending'"
                " AND next_attempt_at <= ?",
                (to_text(now),),
            ).fetchone()
            return int(row[0])

        return await self._run(count)


def _due_order(m: OutboxMessage) -> tuple[datetime, str]:
    return (m.next_attempt_at or m.due_at, m.message_id)


def _opt(value: datetime | None) -> str | None:
    return None if value is None else to_text(value)


def _row(m: OutboxMessage) -> tuple[Any, ...]:
    return (
        m.message_id,
        email_key(m.recipient),
        m.subject,
        m.text,
        m.html,
        m.ics,
        m.ics_method,
        m.kind.value,
        m.session_id,
        m.sequence,
        _opt(m.session_start),
        to_text(m.due_at),
        m.status.value,
        m.attempts,
        m.last_error,
        to_text(m.next_attempt_at or m.due_at),
        m.lease_owner,
        to_text(m.lease_expires_at),
        to_text(utc_ms(m.created_at)),
        _opt(m.sent_at),
    )


def _message(r: sqlite3.Row) -> OutboxMessage:
    def opt(name: str) -> datetime | None:
        value = r[name]
        return None if value is None else from_text(value)

    return OutboxMessage(
        message_id=r["message_id"],
        recipient=r["recipient"],
        subject=r["subject"],
        text=r["body_text"],
        html=r["body_html"],
        ics=r["ics"],
        ics_method=r["ics_method"],
        kind=MailKind(r["kind"]),
        session_id=r["session_id"],
        sequence=int(r["sequence"]),
        session_start=opt("session_start"),
        due_at=from_text(r["due_at"]),
        status=MailStatus(r["status"]),
        attempts=int(r["attempts"]),
        last_error=r["last_error"],
        next_attempt_at=from_text(r["next_attempt_at"]),
        lease_owner=r["lease_owner"],
        lease_expires_at=from_text(r["lease_expires_at"]),
        created_at=from_text(r["created_at"]),
        sent_at=opt("sent_at"),
    )
