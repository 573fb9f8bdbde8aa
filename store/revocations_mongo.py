"""Revoked session tokens on MongoDB: a mixin of :class:`store.mongo.MongoStore`.

Documents keyed by ``_id`` as on SQLite (``token:<id>`` and ``user:<email>``), so a check is
one ``_id`` lookup; old ones are deleted when a new token is revoked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from store.codec import from_mongo, utc_ms
from store.mongo_access import MongoAccess
from store.revocations_sqlite import token_key, user_key

Doc = dict[str, Any]

REVOCATIONS = "sessionRevocations"
REVOCATION_INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="by_expiry")]


class MongoRevocations(MongoAccess):
    async def revoke_session_token(
        self, token_id: str, expires_at: datetime, now: datetime
    ) -> None:
        collection = self._col(REVOCATIONS)
        await collection.delete_many({"expiresAt": {"$lt": utc_ms(now)}})
        await collection.update_one(
            {"_id": token_key(token_id)},
            {"$setOnInsert": {"expiresAt": utc_ms(expires_at)}},
            upsert=True,
        )

    async def revoke_sessions_before(
        self, email: str, before: datetime, expires_at: datetime
    ) -> None:
        await self._col(REVOCATIONS).update_one(
            {"_id": user_key(email)},
            {"$max": {"revokedBefore": utc_ms(before), "expiresAt": utc_ms(expires_at)}},
            upsert=True,
        )

    async def session_revoked(self, email: str, token_id: str, issued_at: datetime) -> bool:
        keys = [token_key(token_id), user_key(email)]
        async for doc in self._col(REVOCATIONS).find({"_id": {"$in": keys}}):
            if doc["_id"] == keys[0]:
                return True
            before = doc.get("revokedBefore")
            if before is not None and utc_ms(issued_at) <= from_mongo(before):
                return True
        return False
