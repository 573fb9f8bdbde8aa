"""The cluster store: MongoDB through PyMongo's native asyncio client.

Documents use the seed's camelCase field names. Datetimes are BSON dates (milliseconds, UTC);
the client runs with ``tz_aware=True`` and every datetime is handed back with the standard
``UTC`` tzinfo, so both backends return equal values.

A standalone ``mongod`` has no multi-document transactions, so double booking is prevented
by unique keys alone: a booking first inserts one ``slotClaims`` document per (e-mail,
30-minute cell) it occupies, in sorted order, under a unique index. A duplicate key means
the slot is taken: the claims this attempt inserted are deleted and the booking fails with
Conflict. Sorted order means that among bookings competing for a cell one always wins (a
booking that fails holds only keys smaller than the one it failed on, so a chain of failures
ends at a success). Cancelling deletes the session's claims.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pymongo
import structlog
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from store.base import (
    Conflict,
    DiscoverPage,
    DiscoverQuery,
    NotFound,
    RoleFilter,
    StoreUnavailable,
)
from store.codec import (
    claim_keys,
    email_key,
    fold,
    from_mongo,
    mail_sequence,
    normalise_session,
    utc_ms,
)
from store.feed_mongo import FEED_TOKEN_INDEXES, FEED_TOKENS, MongoFeedTokens
from store.models import (
    ChatMessage,
    MentoringProfile,
    OutboxMessage,
    Profile,
    Session,
    SessionStatus,
    slot_cells,
    utcnow,
)
from store.mongo_docs import (
    Doc,
    mentoring_doc,
    profile_doc,
    profile_from_doc,
    session_doc,
    session_from_doc,
)
from store.mongo_errors import reachable as _reachable
from store.mongo_schedule import MongoSchedule
from store.operator_mongo import QUALITY, QUALITY_INDEXES, MongoOperator
from store.outbox_mongo import OUTBOX, OUTBOX_INDEXES, MongoOutbox
from store.recordings_mongo import RECORDING_INDEXES, RECORDINGS, MongoRecordings
from store.revocations_mongo import REVOCATION_INDEXES, REVOCATIONS, MongoRevocations

log = structlog.get_logger(__name__)

PING_TIMEOUT_S = 2.0
STALE_CLAIM_AGE = timedelta(minutes=2)
"""A claim whose session was never written (its booking died between the two inserts) is
reclaimed once it is this old; a live booking writes its session within milliseconds."""


PROFILES = "profiles"
SESSIONS = "mentorSessions"
CLAIMS = "slotClaims"
CHAT = "chatMessages"
TOKENS = "loginTokens"

INDEXES: dict[str, list[IndexModel]] = {
    PROFILES: [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("mentoring.enabled", ASCENDING)], name="mentoring_enabled"),
        IndexModel([("mentoring.expertise", ASCENDING)], name="mentoring_expertise"),
        IndexModel(
            [("mentoring.enabled", ASCENDING), ("nameKey", ASCENDING), ("email", ASCENDING)],
            name="mentors_by_name",
        ),
    ],
    SESSIONS: [
        IndexModel([("sessionId", ASCENDING)], unique=True, name="sessionId_unique"),
        IndexModel([("mentorEmail", ASCENDING), ("scheduledAt", DESCENDING)], name="by_mentor"),
        IndexModel([("menteeEmail", ASCENDING), ("scheduledAt", DESCENDING)], name="by_mentee"),
    ],
    CLAIMS: [
        # The double-booking guard: one document per person and 30-minute cell.
        IndexModel([("email", ASCENDING), ("cell", ASCENDING)], unique=True, name="email_cell"),
        IndexModel([("sessionId", ASCENDING)], name="by_session"),
    ],
    CHAT: [
        IndexModel([("messageId", ASCENDING)], unique=True, name="messageId_unique"),
        IndexModel([("sessionId", ASCENDING), ("sentAt", ASCENDING)], name="by_session"),
    ],
    TOKENS: [
        IndexModel([("tokenHash", ASCENDING)], unique=True, name="tokenHash_unique"),
        IndexModel([("email", ASCENDING), ("createdAt", ASCENDING)], name="by_email"),
    ],
    OUTBOX: OUTBOX_INDEXES,
    FEED_TOKENS: FEED_TOKEN_INDEXES,
    REVOCATIONS: REVOCATION_INDEXES,
    QUALITY: QUALITY_INDEXES,
    RECORDINGS: RECORDING_INDEXES,
}


class MongoStore(
    MongoSchedule, MongoOutbox, MongoFeedTokens, MongoRevocations, MongoOperator, MongoRecordings
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

    # --- people -----------------------------------------------------------------------
    @_reachable
    async def ensure_profile(self, email: str, name: str = "") -> Profile:
        fresh = profile_doc(Profile(email=email_key(email), name=name))
        try:
            doc = await self._col(PROFILES).find_one_and_update(
                {"email": fresh["email"]},
                {"$setOnInsert": fresh},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # a concurrent first sign-in inserted it
            doc = await self._col(PROFILES).find_one({"email": fresh["email"]})
        assert doc is not None
        return profile_from_doc(doc)

    @_reachable
    async def get_profile(self, email: str) -> Profile | None:
        doc = await self._col(PROFILES).find_one({"email": email_key(email)})
        return None if doc is None else profile_from_doc(doc)

    @_reachable
    async def save_profile(self, profile: Profile) -> Profile:
        doc = profile_doc(profile)
        try:
            await self._col(PROFILES).replace_one({"email": doc["email"]}, doc, upsert=True)
        except DuplicateKeyError:  # lost an insert race: the document exists now
            await self._col(PROFILES).replace_one({"email": doc["email"]}, doc)
        return profile_from_doc(doc)

    @_reachable
    async def update_mentoring(self, email: str, mentoring: MentoringProfile) -> Profile:
        doc = await self._col(PROFILES).find_one_and_update(
            {"email": email_key(email)},
            {"$set": {"mentoring": mentoring_doc(mentoring), "updatedAt": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"no profile for {email_key(email)}")
        return profile_from_doc(doc)

    @_reachable
    async def discover(self, query: DiscoverQuery) -> DiscoverPage:
        where: Doc = {"mentoring.enabled": True}
        for field, text in (
            ("mentoring.expertiseSearch", query.expertise),
            ("mentoring.languagesSearch", query.language),
        ):
            if text:
                # Tags are stored case-folded; the typed text is folded and escaped, so it
                # matches literally as a substring of any tag.
                # MongoDB refuses a literal NUL in a pattern; the \x00 escape means the same.
                pattern = re.escape(fold(text)).replace("\x00", r"\x00")
                where[field] = {"$regex": pattern}
        if query.free_only:
            where["mentoring.hourlyRate"] = 0
        if query.exclude_email:
            where["email"] = {"$ne": email_key(query.exclude_email)}
        profiles = self._col(PROFILES)
        total = await profiles.count_documents(where)
        cursor = (
            profiles.find(where)
            .sort([("nameKey", ASCENDING), ("email", ASCENDING)])
            .skip(max(query.offset, 0))
            .limit(max(query.limit, 0))
        )
        mentors = [profile_from_doc(doc) async for doc in cursor] if query.limit > 0 else []
        return DiscoverPage(mentors=mentors, total=total)

    # --- sessions ---------------------------------------------------------------------
    @_reachable
    async def create_session(
        self, session: Session, outbox: Sequence[OutboxMessage] = ()
    ) -> Session:
        stored = normalise_session(session)
        claimed: list[ObjectId] = []
        held = await self.hold_mail(outbox, stored.session_id, {"createdAt": stored.created_at})
        try:
            if stored.status is SessionStatus.SCHEDULED:
                for email, cell in claim_keys(
                    stored.mentor_email, stored.mentee_email, stored.scheduled_at, stored.duration
                ):
                    claimed.append(await self._claim(email, cell, stored.session_id))
            await self._col(SESSIONS).insert_one(session_doc(stored))
        except DuplicateKeyError as exc:
            await self._release(claimed)
            await self.drop_held_mail(held)
            raise Conflict("the time slot is taken or the session exists") from exc
        except BaseException:
            await self._release(claimed)
            await self.drop_held_mail(held)
            raise
        await self.release_mail(held)
        return stored

    async def _claim(self, email: str, cell: datetime, session_id: str) -> ObjectId:
        """Insert one claim; DuplicateKeyError when a live booking holds the cell."""
        claims = self._col(CLAIMS)
        doc = {"email": email, "cell": cell, "sessionId": session_id}
        try:
            return (await claims.insert_one(dict(doc))).inserted_id  # type: ignore[no-any-return]
        except DuplicateKeyError:
            if not await self._drop_if_stale(email, cell):
                raise
        return (await claims.insert_one(dict(doc))).inserted_id  # type: ignore[no-any-return]

    async def _drop_if_stale(self, email: str, cell: datetime) -> bool:
        """Delete the claim on (email, cell) if nothing live backs it; True if it was.

        Without transactions a process can die between a booking's claims and its session,
        or between a cancel and its claim clean-up. Such leftovers would block the slot for
        ever, so a booking that bumps into one removes it (by _id, so a fresh claim that
        replaced it in the meantime is left alone).
        """
        claim = await self._col(CLAIMS).find_one({"email": email, "cell": cell})
        if claim is None:
            return True  # released meanwhile: try again
        owner = await self._col(SESSIONS).find_one(
            {"sessionId": claim["sessionId"]}, {"status": 1, "scheduledAt": 1, "duration": 1}
        )
        made = from_mongo(claim["_id"].generation_time)
        if owner is None:
            stale = utcnow() - made > STALE_CLAIM_AGE
        elif owner.get("status") != SessionStatus.SCHEDULED.value:
            stale = True
        else:
            # A claim outside its session's time is left over by a move that died between
            # its steps (store.mongo_schedule); a live move finishes within milliseconds.
            cells = slot_cells(from_mongo(owner["scheduledAt"]), int(owner["duration"]))
            outside = cell not in cells
            stale = outside and utcnow() - made > STALE_CLAIM_AGE
        if stale:
            log.warning("mongo.stale_claim_removed", session_id=claim["sessionId"])
            await self._col(CLAIMS).delete_one({"_id": claim["_id"]})
        return stale

    async def _release(self, claim_ids: list[ObjectId]) -> None:
        if not claim_ids:
            return
        try:
            await self._col(CLAIMS).delete_many({"_id": {"$in": claim_ids}})
        except PyMongoError:
            # Left behind, they are reclaimed by the next booking that meets them.
            log.warning("mongo.claims_not_released", count=len(claim_ids))

    @_reachable
    async def get_session(self, session_id: str) -> Session | None:
        doc = await self._col(SESSIONS).find_one({"sessionId": session_id})
        return None if doc is None else session_from_doc(doc)

    @_reachable
    async def list_sessions(
        self,
        email: str,
        role: RoleFilter = RoleFilter.ALL,
        status: SessionStatus | None = None,
        now: datetime | None = None,
    ) -> list[Session]:
        key = email_key(email)
        parts: list[Doc] = []
        if role is RoleFilter.MENTOR:
            parts.append({"mentorEmail": key})
        elif role is RoleFilter.MENTEE:
            parts.append({"menteeEmail": key})
        else:
            parts.append({"$or": [{"mentorEmail": key}, {"menteeEmail": key}]})
        if status is not None:
            at = utc_ms(now or utcnow())
            if status is SessionStatus.SCHEDULED:
                parts.append({"status": status.value, "endsAt": {"$gt": at}})
            elif status is SessionStatus.COMPLETED:
                parts.append(
                    {
                        "$or": [
                            {"status": SessionStatus.COMPLETED.value},
                            {"status": SessionStatus.SCHEDULED.value, "endsAt": {"$lte": at}},
                        ]
                    }
                )
            else:
                parts.append({"status": status.value})
        cursor = (
            self._col(SESSIONS)
            .find({"$and": parts})
            .sort([("scheduledAt", DESCENDING), ("sessionId", ASCENDING)])
        )
        return [session_from_doc(doc) async for doc in cursor]

    @_reachable
    async def busy_intervals(
        self,
        emails: list[str],
        start: datetime,
        end: datetime,
        exclude_session_id: str | None = None,
    ) -> list[tuple[datetime, datetime]]:
        keys = sorted({email_key(e) for e in emails})
        if not keys:
            return []
        where: Doc = {
            "status": SessionStatus.SCHEDULED.value,
            "scheduledAt": {"$lt": utc_ms(end)},
            "endsAt": {"$gt": utc_ms(start)},
            "$or": [{"mentorEmail": {"$in": keys}}, {"menteeEmail": {"$in": keys}}],
        }
        if exclude_session_id is not None:
            where["sessionId"] = {"$ne": exclude_session_id}
        cursor = (
            self._col(SESSIONS)
            .find(where, {"scheduledAt": 1, "endsAt": 1})
            .sort([("scheduledAt", ASCENDING), ("endsAt", ASCENDING)])
        )
        return [(from_mongo(d["scheduledAt"]), from_mongo(d["endsAt"])) async for d in cursor]

    @_reachable
    async def update_notes(self, session_id: str, notes: str, now: datetime) -> Session:
        doc = await self._col(SESSIONS).find_one_and_update(
            {"sessionId": session_id},
            {"$set": {"notes": notes, "updatedAt": utc_ms(now)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"no session {session_id}")
        return session_from_doc(doc)

    @_reachable
    async def cancel_session(
        self,
        session_id: str,
        cancelled_by: str,
        reason: str,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
    ) -> Session:
        at = utc_ms(now)
        sessions = self._col(SESSIONS)
        after = mail_sequence(outbox, session_id)
        # Only a session that is still scheduled (and not yet over) can be cancelled; the
        # filter makes the state change atomic, so two cancels cannot both succeed. With mail,
        # also only at the sequence the mail was built from: a move or another cancel that
        # got in between makes this one a conflict rather than a notice of the wrong change.
        where: dict[str, Any] = {
            "sessionId": session_id,
            "status": SessionStatus.SCHEDULED.value,
            "endsAt": {"$gt": at},
        }
        expect: dict[str, Any] = {"status": SessionStatus.CANCELLED.value, "updatedAt": at}
        if after is not None:
            where["sequence"] = {"$in": [0, None]} if after == 1 else after - 1
            expect = {"status": SessionStatus.CANCELLED.value, "sequence": after}
        held = await self.hold_mail(outbox, session_id, expect)
        if len(held) < len(outbox):  # another cancel of this session holds these ids
            await self.drop_held_mail(held)
            raise Conflict(f"session {session_id} is being changed by another request")
        doc = await sessions.find_one_and_update(
            where,
            {
                "$set": {
                    "status": SessionStatus.CANCELLED.value,
                    "cancelledBy": email_key(cancelled_by),
                    "cancelReason": reason,
                    "updatedAt": at,
                },
                "$inc": {"sequence": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            await self.drop_held_mail(held)
            if await sessions.find_one({"sessionId": session_id}, {"_id": 1}) is None:
                raise NotFound(f"no session {session_id}")
            raise Conflict(f"session {session_id} is not scheduled")
        await self.release_mail(held)
        await self._col(CLAIMS).delete_many({"sessionId": session_id})
        return session_from_doc(doc)

    # --- chat -------------------------------------------------------------------------
    @_reachable
    async def add_chat_message(self, message: ChatMessage) -> ChatMessage:
        stored = replace(
            message,
            sender=email_key(message.sender),
            sent_at=utc_ms(message.sent_at),
            message_id=message.message_id or uuid.uuid4().hex,
        )
        # The ObjectId _id (made by the client, increasing) orders messages sent within the
        # same millisecond.
        doc = {
            "messageId": stored.message_id,
            "sessionId": stored.session_id,
            "sender": stored.sender,
            "senderName": stored.sender_name,
            "text": stored.text,
            "sentAt": stored.sent_at,
        }
        try:
            await self._col(CHAT).insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"chat message {stored.message_id} exists") from exc
        return stored

    @_reachable
    async def list_chat(self, session_id: str, limit: int = 200) -> list[ChatMessage]:
        if limit <= 0:
            return []
        cursor = (
            self._col(CHAT)
            .find({"sessionId": session_id})
            .sort([("sentAt", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        newest_first = [
            ChatMessage(
                session_id=d["sessionId"],
                sender=d["sender"],
                text=d["text"],
                sent_at=from_mongo(d["sentAt"]),
                sender_name=d.get("senderName", ""),
                message_id=d["messageId"],
            )
            async for d in cursor
        ]
        return newest_first[::-1]

    # --- sign-in links ----------------------------------------------------------------
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
