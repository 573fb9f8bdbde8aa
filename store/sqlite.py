"""The embedded store: one SQLite file, WAL mode, versioned schema.

Every operation is a plain synchronous function that runs whole on one dedicated thread,
which owns the connection. Operations are therefore serialised inside this process and a
transaction is never interleaved with another coroutine's statements; ``BEGIN IMMEDIATE``
plus ``busy_timeout`` serialise writers across processes sharing the file. A caller that is
cancelled while waiting does not cut a transaction short: the function still finishes.

The store is split by concept: this module holds the connection, its thread and the schema;
profiles, sessions (and the double-booking guard), chat, sign-in tokens, scheduling, the mail
outbox and the rest live in the ``store/sqlite_*.py`` and ``store/*_sqlite.py`` mixins.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog

from store.base import StoreUnavailable
from store.feed_sqlite import SqliteFeedTokens
from store.migrations.sqlite import MIGRATIONS
from store.operator_sqlite import SqliteOperator
from store.outbox_sqlite import SqliteOutbox
from store.recordings_sqlite import SqliteRecordings
from store.revocations_sqlite import SqliteRevocations
from store.sqlite_chat import SqliteChat
from store.sqlite_login_tokens import SqliteLoginTokens
from store.sqlite_people import SqlitePeople
from store.sqlite_schedule import SqliteSchedule
from store.sqlite_sessions import SqliteSessions

log = structlog.get_logger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


class SqliteStore(
    SqlitePeople,
    SqliteSessions,
    SqliteChat,
    SqliteLoginTokens,
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
