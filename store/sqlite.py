"""The embedded store: one SQLite file, WAL mode, versioned schema.

Every operation is a plain synchronous function that runs whole on one dedicated thread,
which owns the connection. Operations are therefore serialised inside this process and a
transaction is never interleaved with another coroutine's statements; ``BEGIN IMMEDIATE``
plus ``busy_timeout`` serialise writers across processes sharing the file. A caller that is
cancelled while waiting does not cut a transaction short: the function still finishes.

Double booking is prevented by the ``slot_claims`` primary key (e-mail, 30-minute cell):
a booking inserts the session and all its claims in one transaction, so an overlapping
booking fails with an IntegrityError and rolls back as a whole.
"""

# S608: SQL text here is assembled from constant fragments only (column lists, "?" marks,
# fixed WHERE clauses); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

from store.base import Conflict, DiscoverPage, DiscoverQuery, NotFound, RoleFilter, StoreUnavailable
from store.codec import (
    claim_keys,
    email_key,
    fold,
    from_text,
    mail_sequence,
    normalise_session,
    to_text,
    utc_ms,
)
from store.feed_sqlite import SqliteFeedTokens
from store.migrations.sqlite import MIGRATIONS
from store.models import (
    ChatMessage,
    MentoringProfile,
    OutboxMessage,
    Profile,
    Session,
    SessionStatus,
    utcnow,
)
from store.operator_sqlite import SqliteOperator
from store.outbox_sqlite import SqliteOutbox, insert_outbox
from store.recordings_sqlite import SqliteRecordings
from store.revocations_sqlite import SqliteRevocations
from store.sqlite_rows import (
    PROFILE_COLUMNS,
    SESSION_COLUMNS,
    marks,
    mentoring_values,
    profile_from_row,
    profile_row,
    session_from_row,
    session_row,
)
from store.sqlite_schedule import SqliteSchedule

log = structlog.get_logger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


class SqliteStore(
    SqliteSchedule,
    SqliteOutbox,
    SqliteFeedTokens,
    SqliteRevocations,
    SqliteOperator,
    SqliteRecordings,
):
    """:class:`store.base.Store` on an SQLite file (``":memory:"`` works for one process)."""

    def __init__(self, path: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    # --- plumbing ---------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        executor = self._executor
        if executor is None:
            raise StoreUnavailable("the SQLite store is not open")

        def call() -> T:
            conn = self._conn
            if conn is None:
                raise StoreUnavailable("the SQLite store is closed")
            return fn(conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except sqlite3.OperationalError as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"SQLite cannot serve the request: {exc}") from exc
            raise

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT``; roll back on any error."""

        def tx(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(tx)

    async def open(self) -> None:
        if self._executor is not None:
            return
        if self._path != ":memory:" and not self._path.startswith("file:"):
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        loop = asyncio.get_running_loop()
        try:
            try:
                await loop.run_in_executor(self._executor, self._connect)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"cannot open {self._path}: {exc}") from exc
            version = await self._run(_migrate)
        except BaseException:
            await self.close()
            raise
        log.info("sqlite.opened", path=self._path, schema_version=version)

    def _connect(self) -> None:
        conn = sqlite3.connect(
            self._path,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,
            uri=self._path.startswith("file:"),
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return

        def shut() -> None:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

        try:
            await asyncio.get_running_loop().run_in_executor(executor, shut)
        finally:
            executor.shutdown(wait=True)

    async def ping(self) -> None:
        try:
            await self._run(lambda conn: conn.execute("SELECT 1").fetchone())
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite does not answer: {exc}") from exc

    # --- people -----------------------------------------------------------------------
    async def ensure_profile(self, email: str, name: str = "") -> Profile:
        fresh = profile_row(Profile(email=email_key(email), name=name))

        def ensure(conn: sqlite3.Connection) -> Profile:
            conn.execute(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({marks(17)})"
                " ON CONFLICT(email) DO NOTHING",
                fresh,
            )
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE email = ?", (fresh[0],)
            ).fetchone()
            return profile_from_row(row)

        return await self._write(ensure)

    async def get_profile(self, email: str) -> Profile | None:
        key = email_key(email)

        def get(conn: sqlite3.Connection) -> Profile | None:
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE email = ?", (key,)
            ).fetchone()
            return None if row is None else profile_from_row(row)

        return await self._run(get)

    async def save_profile(self, profile: Profile) -> Profile:
        values = profile_row(profile)
        updates = ", ".join(
            f"{col.strip()} = excluded.{col.strip()}" for col in PROFILE_COLUMNS.split(",")[1:]
        )

        def save(conn: sqlite3.Connection) -> Profile:
            row = conn.execute(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({marks(17)})"
                f" ON CONFLICT(email) DO UPDATE SET {updates} RETURNING {PROFILE_COLUMNS}",
                values,
            ).fetchone()
            return profile_from_row(row)

        return await self._write(save)

    async def update_mentoring(self, email: str, mentoring: MentoringProfile) -> Profile:
        key = email_key(email)
        m = mentoring_values(mentoring)
        now = to_text(utcnow())

        def update(conn: sqlite3.Connection) -> Profile:
            row = conn.execute(
                "UPDATE profiles SET mentoring_enabled = ?, bio = ?, expertise = ?, languages = ?,"
                " expertise_search = ?, languages_search = ?, video_intro_url = ?, goals = ?,"
                f" hourly_rate = ?, updated_at = ? WHERE email = ? RETURNING {PROFILE_COLUMNS}",
                (*m, now, key),
            ).fetchone()
            if row is None:
                raise NotFound(f"no profile for {key}")
            return profile_from_row(row)

        return await self._write(update)

    async def discover(self, query: DiscoverQuery) -> DiscoverPage:
        where = ["mentoring_enabled = 1"]
        params: list[Any] = []
        for column, text in (
            ("expertise_search", query.expertise),
            ("languages_search", query.language),
        ):
            if text:
                # Tags are stored case-folded as a JSON array: any tag containing the folded
                # needle matches. instr() compares exactly, so nothing needs escaping.
                where.append(
                    f"EXISTS (SELECT 1 FROM json_each(profiles.{column}) AS tag"
                    " WHERE instr(tag.value, ?) > 0)"
                )
                params.append(fold(text))
        if query.free_only:
            where.append("hourly_rate = 0")
        if query.exclude_email:
            where.append("email <> ?")
            params.append(email_key(query.exclude_email))
        clause = " AND ".join(where)
        limit, offset = max(query.limit, 0), max(query.offset, 0)

        def find(conn: sqlite3.Connection) -> DiscoverPage:
            total = conn.execute(f"SELECT count(*) FROM profiles WHERE {clause}", params).fetchone()
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE {clause}"
                " ORDER BY name_key, email LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
            return DiscoverPage(mentors=[profile_from_row(r) for r in rows], total=int(total[0]))

        return await self._run(find)

    # --- sessions ---------------------------------------------------------------------
    async def create_session(
        self, session: Session, outbox: Sequence[OutboxMessage] = ()
    ) -> Session:
        stored = normalise_session(session)
        values = session_row(stored)
        claims = [
            (email, to_text(cell), stored.session_id)
            for email, cell in claim_keys(
                stored.mentor_email, stored.mentee_email, stored.scheduled_at, stored.duration
            )
        ]
        if stored.status is not SessionStatus.SCHEDULED:
            claims = []  # a past or cancelled session (imported history) holds no slot

        def book(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks(15)})", values)
            if claims:
                conn.executemany(
                    "INSERT INTO slot_claims (email, cell, session_id) VALUES (?, ?, ?)", claims
                )
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
    ) -> Session:
        at = to_text(now)
        by = email_key(cancelled_by)

        after = mail_sequence(outbox, session_id)
        # With mail, only at the sequence the mail was built from (see mail_sequence).
        guard, guard_args = ("", ()) if after is None else (" AND sequence = ?", (after - 1,))

        def cancel(conn: sqlite3.Connection) -> Session:
            # Only a session that is still scheduled (and not yet over) can be cancelled.
            row = conn.execute(
                "UPDATE sessions SET status = 'cancelled', cancelled_by = ?, cancel_reason = ?,"
                " updated_at = ?, sequence = sequence + 1"
                " WHERE session_id = ? AND status = 'scheduled' AND ends_at > ?"
                f"{guard} RETURNING {SESSION_COLUMNS}",
                (by, reason, at, session_id, at, *guard_args),
            ).fetchone()
            if row is None:
                exists = conn.execute(
                    "SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)
                ).fetchone()
                if exists is None:
                    raise NotFound(f"no session {session_id}")
                raise Conflict(f"session {session_id} is not scheduled")
            conn.execute("DELETE FROM slot_claims WHERE session_id = ?", (session_id,))
            insert_outbox(conn, outbox)
            return session_from_row(row)

        return await self._write(cancel)

    # --- chat -------------------------------------------------------------------------
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

    # --- sign-in links ----------------------------------------------------------------
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


def _unavailable(exc: sqlite3.OperationalError) -> bool:
    """Errors that mean "try again later" (another process holds the lock, the disk is
    gone), as opposed to a bug in a statement."""
    text = str(exc).lower()
    return any(word in text for word in ("locked", "busy", "disk i/o", "unable to open"))


# --- schema ---------------------------------------------------------------------------
def _migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations newer than ``PRAGMA user_version``, each in its own transaction."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database schema (version {current}) is newer than this program knows"
            f" ({len(MIGRATIONS)}); upgrade Pana Mia Live"
        )
    for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        log.info("sqlite.migrated", version=version)
    return len(MIGRATIONS)
