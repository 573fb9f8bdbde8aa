"""Sign-in link tokens on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from store.base import Conflict
from store.codec import email_key, to_text
from store.models import utcnow
from store.sqlite_access import SqliteAccess


class SqliteLoginTokens(SqliteAccess):
    async def add_login_token(self, token_hash: str, email: str, expires_at: datetime) -> None:
        values = (token_hash, email_key(email), to_text(expires_at), to_text(utcnow()))

        def add(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO login_tokens (token_hash, email, expires_at, created_at)"
                " VALUES (?, ?, ?, ?)",
                values,
            )

        try:
            await self._write(add)
        except sqlite3.IntegrityError as exc:
            raise Conflict("the sign-in token exists") from exc

    async def consume_login_token(self, token_hash: str, now: datetime) -> str | None:
        at = to_text(now)

        def consume(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "UPDATE login_tokens SET used = 1"
                " WHERE token_hash = ? AND used = 0 AND expires_at > ? RETURNING email",
                (token_hash, at),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._write(consume)

    async def count_login_tokens_since(self, email: str, since: datetime) -> int:
        params = (email_key(email), to_text(since))

        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM login_tokens WHERE email = ? AND created_at >= ?", params
            ).fetchone()
            return int(row[0])

        return await self._run(count)
