"""The cluster store: MongoDB through PyMongo's native asyncio client.

Documents use the seed's camelCase field names. Datetimes are BSON dates (milliseconds, UTC);
the client runs with ``tz_aware=True`` and every datetime is handed back with the standard
``UTC`` tzinfo, so both backends return equal values.

The store is split by concept: this module holds the client, the index set and the store
itself; profiles, sessions and their cell claims (the double-booking guard), chat, sign-in
tokens, scheduling, the mail outbox and the rest live in the ``store/mongo_*.py`` and
``store/*_mongo.py`` mixins.
"""

from __future__ import annotations

import pymongo
import structlog
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from store.base import StoreUnavailable
from store.feed_mongo import FEED_TOKEN_INDEXES, FEED_TOKENS, MongoFeedTokens
from store.mongo_chat import CHAT, CHAT_INDEXES, MongoChat
from store.mongo_claims import CLAIM_INDEXES, STALE_CLAIM_AGE
from store.mongo_docs import CLAIMS, PROFILES, SESSIONS, Doc
from store.mongo_errors import reachable as _reachable
from store.mongo_login_tokens import TOKEN_INDEXES, TOKENS, MongoLoginTokens
from store.mongo_people import PROFILE_INDEXES, MongoPeople
from store.mongo_schedule import MongoSchedule
from store.mongo_sessions import SESSION_INDEXES, MongoSessions
from store.operator_mongo import QUALITY, QUALITY_INDEXES, MongoOperator
from store.outbox_mongo import OUTBOX, OUTBOX_INDEXES, MongoOutbox
from store.recordings_mongo import RECORDING_INDEXES, RECORDINGS, MongoRecordings
from store.revocations_mongo import REVOCATION_INDEXES, REVOCATIONS, MongoRevocations

__all__ = [
    "CHAT",
    "CLAIMS",
    "INDEXES",
    "PING_TIMEOUT_S",
    "PROFILES",
    "SESSIONS",
    "STALE_CLAIM_AGE",
    "TOKENS",
    "MongoStore",
]

log = structlog.get_logger(__name__)

PING_TIMEOUT_S = 2.0

INDEXES: dict[str, list[IndexModel]] = {
    PROFILES: PROFILE_INDEXES,
    SESSIONS: SESSION_INDEXES,
    CLAIMS: CLAIM_INDEXES,
    CHAT: CHAT_INDEXES,
    TOKENS: TOKEN_INDEXES,
    OUTBOX: OUTBOX_INDEXES,
    FEED_TOKENS: FEED_TOKEN_INDEXES,
    REVOCATIONS: REVOCATION_INDEXES,
    QUALITY: QUALITY_INDEXES,
    RECORDINGS: RECORDING_INDEXES,
}


class MongoStore(
    MongoPeople,
    MongoSessions,
    MongoChat,
    MongoLoginTokens,
    MongoSchedule,
    MongoOutbox,
    MongoFeedTokens,
    MongoRevocations,
    MongoOperator,
    MongoRecordings,
):
    """:class:`store.base.Store` on a MongoDB database (standalone, replica set or sharded)."""

    def __init__(self, uri: str, database: str) -> None:
        self._uri = uri
        self._database_name = database
        self._client: AsyncMongoClient[Doc] | None = None

    # --- plumbing ---------------------------------------------------------------------
    @property
    def _db(self) -> AsyncDatabase[Doc]:
        if self._client is None:
            raise StoreUnavailable("the MongoDB store is not open")
        return self._client[self._database_name]

    def _col(self, name: str) -> AsyncCollection[Doc]:
        return self._db[name]

    def _connect(self) -> AsyncMongoClient[Doc]:
        if self._client is None:
            self._client = AsyncMongoClient(self._uri, tz_aware=True, appname="panamia")
        return self._client

    async def open(self) -> None:
        self._connect()
        try:
            await self.create_indexes()
        except BaseException:
            await self.close()
            raise
        log.info("mongo.opened", database=self._database_name)

    @_reachable
    async def create_indexes(self) -> None:
        """Create every index the store relies on (idempotent)."""
        self._connect()
        for collection, indexes in INDEXES.items():
            await self._col(collection).create_indexes(indexes)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def ping(self) -> None:
        try:
            with pymongo.timeout(PING_TIMEOUT_S):
                client = self._client
                if client is None:
                    raise StoreUnavailable("the MongoDB store is not open")
                await client.admin.command("ping")
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB does not answer: {exc}") from exc
