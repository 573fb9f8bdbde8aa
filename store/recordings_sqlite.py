"""Session recordings' metadata on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

# The only interpolated SQL is the fixed column list below; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from store.base import NotFound
from store.codec import from_text, to_text
from store.models import Recording, RecordingStatus
from store.sqlite_access import SqliteAccess

COLUMNS = (
    "recording_id, session_id, started_by, file_name, started_at, ended_at, duration_s,"
    " size_bytes, status, error"
)


def _row(row: tuple[Any, ...]) -> Recording:
    return Recording(
        recording_id=row[0],
        session_id=row[1],
        started_by=row[2],
        file_name=row[3],
        started_at=from_text(row[4]),
        ended_at=from_text(row[5]) if row[5] else None,
        duration_s=float(row[6]),
        size_bytes=int(row[7]),
        status=RecordingStatus(row[8]),
        error=row[9],
    )


class SqliteRecordings(SqliteAccess):
    async def add_recording(self, recording: Recording) -> None:
        r = recording
        values = (
            r.recording_id,
            r.session_id,
            r.started_by.lower(),
            r.file_name,
            to_text(r.started_at),
            to_text(r.ended_at) if r.ended_at else None,
            r.duration_s,
            r.size_bytes,
            r.status.value,
            r.error,
        )

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO recordings ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", values)

        await self._write(put)

    async def finish_recording(
        self,
        recording_id: str,
        *,
        ended_at: datetime,
        duration_s: float,
        size_bytes: int,
        status: RecordingStatus,
        error: str | None = None,
    ) -> Recording:
        values = (to_text(ended_at), duration_s, size_bytes, status.value, error, recording_id)

        def put(conn: sqlite3.Connection) -> Recording:
            conn.execute(
                "UPDATE recordings SET ended_at = ?, duration_s = ?, size_bytes = ?, status = ?,"
                " error = ? WHERE recording_id = ?",
                values,
            )
            row = conn.execute(
                f"SELECT {COLUMNS} FROM recordings WHERE recording_id = ?", (recording_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no recording {recording_id}")
            return _row(row)

        return await self._write(put)

    async def get_recording(self, recording_id: str) -> Recording | None:
        def find(conn: sqlite3.Connection) -> Recording | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM recordings WHERE recording_id = ?", (recording_id,)
            ).fetchone()
            return _row(row) if row else None

        return await self._run(find)

    async def list_recordings(self, session_id: str) -> list[Recording]:
        def find(conn: sqlite3.Connection) -> list[Recording]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM recordings WHERE session_id = ?"
                " ORDER BY started_at, recording_id",
                (session_id,),
            ).fetchall()
            return [_row(row) for row in rows]

        return await self._run(find)

    async def delete_recording(self, recording_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            done = conn.execute("DELETE FROM recordings WHERE recording_id = ?", (recording_id,))
            return done.rowcount > 0

        return await self._write(remove)

    async def recordings_started_before(self, before: datetime) -> list[Recording]:
        def find(conn: sqlite3.Connection) -> list[Recording]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM recordings WHERE started_at < ?"
                " ORDER BY started_at, recording_id",
                (to_text(before),),
            ).fetchall()
            return [_row(row) for row in rows]

        return await self._run(find)
