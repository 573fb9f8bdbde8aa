"""Session recordings' metadata on MongoDB: a mixin of :class:`store.mongo.MongoStore`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from store.base import NotFound
from store.codec import from_mongo, utc_ms
from store.models import Recording, RecordingStatus
from store.mongo_access import MongoAccess

Doc = dict[str, Any]

RECORDINGS = "sessionRecordings"
RECORDING_INDEXES = [
    IndexModel([("sessionId", ASCENDING), ("startedAt", ASCENDING)], name="by_session"),
    IndexModel([("startedAt", ASCENDING)], name="by_start"),
]


def _doc(r: Recording) -> Doc:
    return {
        "_id": r.recording_id,
        "sessionId": r.session_id,
        "startedBy": r.started_by.lower(),
        "fileName": r.file_name,
        "startedAt": utc_ms(r.started_at),
        "endedAt": utc_ms(r.ended_at) if r.ended_at else None,
        "durationS": float(r.duration_s),
        "sizeBytes": int(r.size_bytes),
        "status": r.status.value,
        "error": r.error,
    }


def _recording(d: Doc) -> Recording:
    return Recording(
        recording_id=str(d["_id"]),
        session_id=str(d["sessionId"]),
        started_by=str(d["startedBy"]),
        file_name=str(d["fileName"]),
        started_at=from_mongo(d["startedAt"]),
        ended_at=from_mongo(d["endedAt"]) if d.get("endedAt") else None,
        duration_s=float(d.get("durationS", 0.0)),
        size_bytes=int(d.get("sizeBytes", 0)),
        status=RecordingStatus(d["status"]),
        error=d.get("error"),
    )


class MongoRecordings(MongoAccess):
    async def add_recording(self, recording: Recording) -> None:
        await self._col(RECORDINGS).insert_one(_doc(recording))

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
        doc = await self._col(RECORDINGS).find_one_and_update(
            {"_id": recording_id},
            {
                "$set": {
                    "endedAt": utc_ms(ended_at),
                    "durationS": float(duration_s),
                    "sizeBytes": int(size_bytes),
                    "status": status.value,
                    "error": error,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"no recording {recording_id}")
        return _recording(doc)

    async def get_recording(self, recording_id: str) -> Recording | None:
        doc = await self._col(RECORDINGS).find_one({"_id": recording_id})
        return _recording(doc) if doc else None

    async def list_recordings(self, session_id: str) -> list[Recording]:
        cursor = self._col(RECORDINGS).find({"sessionId": session_id})
        found = [_recording(d) async for d in cursor]
        return sorted(found, key=lambda r: (r.started_at, r.recording_id))

    async def delete_recording(self, recording_id: str) -> bool:
        done = await self._col(RECORDINGS).delete_one({"_id": recording_id})
        return done.deleted_count > 0

    async def recordings_started_before(self, before: datetime) -> list[Recording]:
        cursor = self._col(RECORDINGS).find({"startedAt": {"$lt": utc_ms(before)}})
        found = [_recording(d) async for d in cursor]
        return sorted(found, key=lambda r: (r.started_at, r.recording_id))
