"""Calendar feed tokens on MongoDB: a mixin of :class:`store.mongo.MongoStore`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from store.codec import email_key, from_mongo, utc_ms
from store.mongo_access import MongoAccess

Doc = dict[str, Any]

FEED_TOKENS = "calendarTokens"
FEED_TOKEN_INDEXES = [
    IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
    IndexModel([("tokenHash", ASCENDING)], unique=True, name="tokenHash_unique"),
]


class MongoFeedTokens(MongoAccess):
    """One document per person, replaced on rotation."""

    async def set_calendar_token(self, email: str, token_hash: str, now: datetime) -> None:
        key = email_key(email)
        await self._col(FEED_TOKENS).replace_one(
            {"email": key},
            {"email": key, "tokenHash": token_hash, "createdAt": utc_ms(now)},
            upsert=True,
        )

    async def delete_calendar_token(self, email: str) -> bool:
        result = await self._col(FEED_TOKENS).delete_one({"email": email_key(email)})
        return result.deleted_count == 1

    async def calendar_token_created(self, email: str) -> datetime | None:
        doc = await self._col(FEED_TOKENS).find_one({"email": email_key(email)})
        return None if doc is None else from_mongo(doc["createdAt"])

    async def calendar_owner(self, token_hash: str) -> str | None:
        doc = await self._col(FEED_TOKENS).find_one({"tokenHash": token_hash}, {"email": 1})
        return None if doc is None else str(doc["email"])
