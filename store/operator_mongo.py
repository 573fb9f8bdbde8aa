"""The operator console's data on MongoDB: a mixin of :class:`store.mongo.MongoStore`.

Summaries are documents keyed ``<session id>:<e-mail>`` holding the same JSON body as on
SQLite. The participant search matches an escaped, lower-case regular expression against the
stored (lower-case) e-mails, so what people type is never read as a pattern.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from store.codec import email_key, utc_ms
from store.models import Session
from store.mongo_access import MongoAccess
from store.mongo_docs import session_from_doc
from store.mongo_errors import reachable
from store.operator import (
    SEARCH_LIMIT_MAX,
    QualitySummary,
    SessionSearch,
    participant_needle,
    summary_from_json,
    summary_to_json,
)

Doc = dict[str, Any]

QUALITY = "qualitySummaries"
QUALITY_INDEXES = [IndexModel([("sessionId", ASCENDING), ("email", ASCENDING)], name="by_session")]
SESSIONS = "mentorSessions"


class MongoOperator(MongoAccess):
    @reachable
    async def save_quality_summary(self, summary: QualitySummary) -> None:
        email = email_key(summary.email)
        await self._col(QUALITY).replace_one(
            {"_id": f"{summary.session_id}:{email}"},
            {"sessionId": summary.session_id, "email": email, "body": summary_to_json(summary)},
            upsert=True,
        )

    @reachable
    async def quality_summaries(self, session_id: str) -> list[QualitySummary]:
        cursor = self._col(QUALITY).find({"sessionId": session_id}).sort("email", ASCENDING)
        return [summary_from_json(doc["body"]) async for doc in cursor]

    @reachable
    async def search_sessions(self, search: SessionSearch) -> list[Session]:
        parts: list[Doc] = []
        needle = participant_needle(search)
        if needle is not None:
            pattern = re.escape(needle)
            parts.append(
                {
                    "$or": [
                        {"mentorEmail": {"$regex": pattern}},
                        {"menteeEmail": {"$regex": pattern}},
                    ]
                }
            )
        if search.start_from is not None:
            parts.append({"scheduledAt": {"$gte": utc_ms(search.start_from)}})
        if search.start_before is not None:
            parts.append({"scheduledAt": {"$lt": utc_ms(search.start_before)}})
        cursor = (
            self._col(SESSIONS)
            .find({"$and": parts} if parts else {})
            .sort([("scheduledAt", DESCENDING), ("sessionId", ASCENDING)])
            .limit(max(1, min(search.limit, SEARCH_LIMIT_MAX)))
        )
        return [session_from_doc(doc) async for doc in cursor]
