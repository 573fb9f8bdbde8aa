"""What only the SQLite store has: its file, pragmas, migrations and cross-process locking."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store.base import StoreUnavailable
from store.migrations.sqlite import MIGRATIONS
from store.sqlite import SqliteStore
from tests.contract.conftest import BASE, booking


async def test_open_creates_the_folder_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "panamia.sqlite3"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = str(tmp_path / "panamia.sqlite3")
    store = SqliteStore(path)
    await store.open()
    session = await store.create_session(booking("a@example.com", "b@example.com"))
    await store.close()
    await store.close()  # closing twice is harmless

    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.get_session(session.session_id) == session
    finally:
        await again.close()


async def test_a_schema_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    store = SqliteStore(str(path))
    with pytest.raises(RuntimeError, match="newer"):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "fk.sqlite3"))
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "fk.sqlite3") as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO slot_claims (email, cell, session_id) VALUES ('a', 'b', 'none')"
            )


async def test_a_writer_in_another_process_holding_the_lock_means_unavailable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SqliteStore(str(path), busy_timeout_ms=100)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable):
            await store.create_session(booking("a@example.com", "b@example.com"))
        other.execute("ROLLBACK")
        # Once the lock is gone the same booking goes through: nothing half-written stayed.
        await store.create_session(booking("a@example.com", "b@example.com", BASE))
    finally:
        other.close()
        await store.close()
