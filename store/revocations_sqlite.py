"""Revoked session tokens on SQLite: a mixin of :class:`store.sqlite.SqliteStore`.

One table holds both kinds of row, so checking a token is one primary-key lookup of two
keys: ``token:<id>`` (one signed-out token) and ``user:<email>`` (every token of that person
issued at or before ``revoked_before``, from "sign out everywhere").
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from store.codec import email_key, from_text, to_text
from store.sqlite_access import SqliteAccess


def token_key(token_id: str) -> str:
    return f"token:{token_id}"


def user_key(email: str) -> str:
    return f"user:{email_key(email)}"


class SqliteRevocations(SqliteAccess):
    async def revoke_session_token(
        self, token_id: str, expires_at: datetime, now: datetime
    ) -> None:
        values = (token_key(token_id), to_text(expires_at))

        def put(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM session_revocations WHERE expires_at < ?", (to_text(now),))
            conn.execute(
                "INSERT INTO session_revocations (key, revoked_before, expires_at)"
                " VALUES (?, NULL, ?) ON CONFLICT(key) DO NOTHING",
                values,
            )

        await self._write(put)

    async def revoke_sessions_before(
        self, email: str, before: datetime, expires_at: datetime
    ) -> None:
        values = (user_key(email), to_text(before), to_text(expires_at))

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO session_revocations (key, revoked_before, expires_at)"
                " VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                " revoked_before = max(revoked_before, excluded.revoked_before),"
                " expires_at = max(expires_at, excluded.expires_at)",
                values,
            )

        await self._write(put)

    async def session_revoked(self, email: str, token_id: str, issued_at: datetime) -> bool:
        keys = (token_key(token_id), user_key(email))

        def find(conn: sqlite3.Connection) -> bool:
            rows = conn.execute(
                "SELECT key, revoked_before FROM session_revocations WHERE key IN (?, ?)", keys
            ).fetchall()
            for key, revoked_before in rows:
                if key == keys[0]:
                    return True
                if revoked_before is not None and issued_at <= from_text(revoked_before):
                    return True
            return False

        return await self._run(find)
