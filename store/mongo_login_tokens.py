"""Sign-in link tokens on MongoDB: a mixin of :class:`store.mongo.MongoStore`."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from store.base import Conflict
from store.codec import email_key, utc_ms
from store.models import utcnow
from store.mongo_access import MongoAccess
from store.mongo_errors import reachable as _reachable

TOKENS = "loginTokens"
TOKEN_INDEXES = [
    IndexModel([("tokenHash", ASCENDING)], unique=True, name="tokenHash_unique"),
    IndexModel([("email", ASCENDING), ("createdAt", ASCENDING)], name="by_email"),
]


class MongoLoginTokens(MongoAccess):
    @_reachable
    async def add_login_token(self, token_hash: str, email: str, expires_at: datetime) -> None:
        doc = {
            "tokenHash": token_hash,
            "email": email_key(email),
            "expiresAt": utc_ms(expires_at),
            "createdAt": utcnow(),
            "used": False,
        }
        try:
            await self._col(TOKENS).insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict("the sign-in token exists") from exc

    @_reachable
    async def consume_login_token(self, token_hash: str, now: datetime) -> str | None:
        doc = await self._col(TOKENS).find_one_and_update(
            {"tokenHash": token_hash, "used": False, "expiresAt": {"$gt": utc_ms(now)}},
            {"$set": {"used": True}},
            projection={"email": 1},
        )
        return None if doc is None else str(doc["email"])

    @_reachable
    async def count_login_tokens_since(self, email: str, since: datetime) -> int:
        return await self._col(TOKENS).count_documents(
            {"email": email_key(email), "createdAt": {"$gte": utc_ms(since)}}
        )
