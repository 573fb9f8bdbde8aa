"""Session chat on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace

from store.base import Conflict
from store.codec import email_key, from_text, to_text, utc_ms
from store.models import ChatMessage
from store.sqlite_access import SqliteAccess


class SqliteChat(SqliteAccess):
    async def add_chat_message(self, message: ChatMessage) -> ChatMessage:
        stored = replace(
            message,
            sender=email_key(message.sender),
            sent_at=utc_ms(message.sent_at),
            message_id=message.message_id or uuid.uuid4().hex,
        )

        def add(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO chat_messages (message_id, session_id, sender, sender_name, text,"
                " sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    stored.message_id,
                    stored.session_id,
                    stored.sender,
                    stored.sender_name,
                    stored.text,
                    to_text(stored.sent_at),
                ),
            )

        try:
            await self._write(add)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"chat message {stored.message_id} exists") from exc
        return stored

    async def list_chat(self, session_id: str, limit: int = 200) -> list[ChatMessage]:
        def find(conn: sqlite3.Connection) -> list[ChatMessage]:
            rows = conn.execute(
                "SELECT message_id, session_id, sender, sender_name, text, sent_at"
                " FROM chat_messages WHERE session_id = ? ORDER BY sent_at DESC, seq DESC"
                " LIMIT ?",
                (session_id, max(limit, 0)),
            ).fetchall()
            return [
                ChatMessage(
                    session_id=r["session_id"],
                    sender=r["sender"],
                    text=r["text"],
                    sent_at=from_text(r["sent_at"]),
                    sender_name=r["sender_name"],
                    message_id=r["message_id"],
                )
                for r in reversed(rows)
            ]

        return await self._run(find)
