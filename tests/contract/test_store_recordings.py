"""Session recordings' metadata: one row per recorded part, finished, listed, purged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.base import NotFound, Store
from store.models import Recording, RecordingStatus
from tests.contract.conftest import BASE

MIN = timedelta(minutes=1)


def part(recording_id: str, session_id: str, minutes: int) -> Recording:
    return Recording(
        recording_id=recording_id,
        session_id=session_id,
        started_by="Ana@Example.org",
        file_name=f"{session_id}/{recording_id}.webm",
        started_at=BASE + minutes * MIN,
    )


async def test_a_recording_is_kept_finished_and_listed_in_order(store: Store) -> None:
    await store.add_recording(part("r2", "s1", 10))
    await store.add_recording(part("r1", "s1", 0))
    await store.add_recording(part("r3", "s2", 5))
    started = await store.get_recording("r1")
    assert started is not None
    assert started.status is RecordingStatus.RECORDING and started.ended_at is None
    assert started.started_by == "ana@example.org"
    assert started.started_at == BASE
    done = await store.finish_recording(
        "r1",
        ended_at=BASE + 2 * MIN,
        duration_s=119.5,
        size_bytes=1234,
        status=RecordingStatus.DONE,
    )
    assert done.ended_at == BASE + 2 * MIN
    assert (done.duration_s, done.size_bytes, done.status) == (119.5, 1234, RecordingStatus.DONE)
    assert [r.recording_id for r in await store.list_recordings("s1")] == ["r1", "r2"]
    assert await store.list_recordings("nobody") == []
    failed = await store.finish_recording(
        "r2",
        ended_at=BASE + 11 * MIN,
        duration_s=3.0,
        size_bytes=10,
        status=RecordingStatus.FAILED,
        error="the disk is full",
    )
    assert failed.error == "the disk is full" and failed.status is RecordingStatus.FAILED
    with pytest.raises(NotFound):
        await store.finish_recording(
            "missing", ended_at=BASE, duration_s=0, size_bytes=0, status=RecordingStatus.DONE
        )


async def test_recordings_are_deleted_and_found_for_the_purge(store: Store) -> None:
    for rid, minutes in (("old", 0), ("mid", 30), ("new", 60)):
        await store.add_recording(part(rid, "s1", minutes))
    older = await store.recordings_started_before(BASE + 30 * MIN)
    assert [r.recording_id for r in older] == ["old"]
    assert await store.delete_recording("old")
    assert not await store.delete_recording("old")
    assert await store.get_recording("old") is None
    assert [r.recording_id for r in await store.list_recordings("s1")] == ["mid", "new"]
