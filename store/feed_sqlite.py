"""Calendar feed tokens on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from store.codec import email_key, from_text, to_text
from store.sqlite_access import SqliteAccess


class SqliteFeedTokens(SqliteAccess):
    """One row per person; the primary key makes "one token per user" hold."""

    async def set_calendar_token(self, email: str, token_hash: str, now: datetime) -> None:
        values = (email_key(email), token_hash, to_text(now))

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO calendar_tokens (email, token_hash, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT(email) DO UPDATE SET token_hash = excluded.token_hash,"
                " created_at = excluded.created_at",
                values,
            )

        await self._write(put)

    async def delete_calendar_token(self, email: str) -> bool:
        key = email_key(email)

        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM calendar_tokens WHERE email = ?", (key,)).rowcount == 1

        return await self._write(delete)

    async def calendar_token_created(self, email: str) -> datetime | None:
        key = email_key(email)

        def find(conn: sqlite3.Connection) -> datetime | None:
            row = conn.execute(
                "SELECT created_at FROM calendar_tokens WHERE email = ?", (key,)
            ).fetchone()
            return None if row is None else from_text(row[0])

        return await self._run(find)

    async def calendar_owner(self, token_hash: str) -> str | None:
        def find(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT email FROM calendar_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(find)
