"""The operator console's data on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

# S608: the WHERE clause is assembled from constant fragments; values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from typing import Any

from store.codec import email_key, to_text
from store.models import Session
from store.operator import (
    SEARCH_LIMIT_MAX,
    QualitySummary,
    SessionSearch,
    participant_needle,
    summary_from_json,
    summary_to_json,
)
from store.sqlite_access import SqliteAccess
from store.sqlite_rows import SESSION_COLUMNS, session_from_row


class SqliteOperator(SqliteAccess):
    async def save_quality_summary(self, summary: QualitySummary) -> None:
        values = (
            summary.session_id,
            email_key(summary.email),
            json.dumps(summary_to_json(summary)),
            to_text(summary.last_at),
        )

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO quality_summaries (session_id, email, body, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(session_id, email) DO UPDATE SET"
                " body = excluded.body, updated_at = excluded.updated_at",
                values,
            )

        await self._write(put)

    async def quality_summaries(self, session_id: str) -> list[QualitySummary]:
        def find(conn: sqlite3.Connection) -> list[QualitySummary]:
            rows = conn.execute(
                "SELECT body FROM quality_summaries WHERE session_id = ? ORDER BY email",
                (session_id,),
            ).fetchall()
            return [summary_from_json(json.loads(row[0])) for row in rows]

        return await self._run(find)

    async def search_sessions(self, search: SessionSearch) -> list[Session]:
        where = ["1 = 1"]
        params: list[Any] = []
        needle = participant_needle(search)
        if needle is not None:
            where.append("(instr(mentor_email, ?) > 0 OR instr(mentee_email, ?) > 0)")
            params += [needle, needle]
        if search.start_from is not None:
            where.append("scheduled_at >= ?")
            params.append(to_text(search.start_from))
        if search.start_before is not None:
            where.append("scheduled_at < ?")
            params.append(to_text(search.start_before))
        params.append(max(1, min(search.limit, SEARCH_LIMIT_MAX)))
        clause = " AND ".join(where)

        def find(conn: sqlite3.Connection) -> list[Session]:
            rows = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {clause}"
                " ORDER BY scheduled_at DESC, session_id LIMIT ?",
                params,
            ).fetchall()
            return [session_from_row(row) for row in rows]

        return await self._run(find)
