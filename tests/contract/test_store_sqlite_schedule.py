"""Scheduling on SQLite only: a database from before scheduling is upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from store.migrations.sqlite import MIGRATIONS
from store.models import default_availability
from store.sqlite import SqliteStore
from tests.contract.conftest import BASE


async def test_a_version_one_database_gains_the_scheduling_fields(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        stamp = "2030-01-01T00:00:00.000Z"
        conn.execute(
            "INSERT INTO profiles (email, name, time_zone, mentoring_enabled, created_at,"
            " updated_at) VALUES ('ana@example.com', 'Ana', 'Asia/Calcutta', 1, ?, ?)",
            (stamp, stamp),
        )
        conn.execute(
            "INSERT INTO sessions (session_id, mentor_email, mentee_email, scheduled_at,"
            " ends_at, duration, topic, status, created_at, updated_at) VALUES"
            " ('s1', 'ana@example.com', 'ben@example.com', '2031-03-04T10:00:00.000Z',"
            " '2031-03-04T11:00:00.000Z', 60, 'Queues', 'scheduled', ?, ?)",
            (stamp, stamp),
        )
    store = SqliteStore(str(path))
    await store.open()
    try:
        profile = await store.get_profile("ana@example.com")
        assert profile is not None
        assert profile.availability is None
        assert profile.time_zone == "Asia/Kolkata"
        assert profile.effective_availability == default_availability("Asia/Kolkata")
        session = await store.get_session("s1")
        assert session is not None and session.scheduled_at == BASE
        assert session.sequence == 0 and session.history == ()
    finally:
        await store.close()
