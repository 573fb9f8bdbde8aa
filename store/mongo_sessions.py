"""Booking, listing and cancelling sessions on MongoDB: a mixin of
:class:`store.mongo.MongoStore`.

A booking claims its cells first (see ``store.mongo_claims``), then writes the session; its
mail is written held and released only once the session exists (see docs/mail.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from store.base import Conflict, NotFound, NotScheduled, RoleFilter, SessionChanged
from store.codec import (
    cancel_guard,
    claim_keys,
    email_key,
    from_mongo,
    normalise_session,
    utc_ms,
)
from store.models import OutboxMessage, Session, SessionStatus, utcnow
from store.mongo_access import MongoHeldMail
from store.mongo_claims import MongoClaims
from store.mongo_docs import CLAIMS, SESSIONS, Doc, session_doc, session_from_doc
from store.mongo_errors import reachable as _reachable

SESSION_INDEXES = [
    IndexModel([("sessionId", ASCENDING)], unique=True, name="sessionId_unique"),
    IndexModel([("mentorEmail", ASCENDING), ("scheduledAt", DESCENDING)], name="by_mentor"),
    IndexModel([("menteeEmail", ASCENDING), ("scheduledAt", DESCENDING)], name="by_mentee"),
]


class MongoSessions(MongoClaims, MongoHeldMail):
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
        *,
        expected_sequence: int | None = None,
        expected_start: datetime | None = None,
    ) -> Session:
        at = utc_ms(now)
        sessions = self._col(SESSIONS)
        sequence = cancel_guard(outbox, session_id, expected_sequence)
        # Only a session that is still scheduled (and not yet over) can be cancelled; the
        # filter makes the state change atomic, so two cancels cannot both succeed. Also only
        # at the sequence (and start) the caller read: a move or another cancel that got in
        # between makes this one a conflict rather than a notice of the wrong change.
        where: dict[str, Any] = {
            "sessionId": session_id,
            "status": SessionStatus.SCHEDULED.value,
            "endsAt": {"$gt": at},
        }
        expect: dict[str, Any] = {"status": SessionStatus.CANCELLED.value, "updatedAt": at}
        if sequence is not None:
            # Sessions stored before the sequence existed have none: they are at 0.
            where["sequence"] = {"$in": [0, None]} if sequence == 0 else sequence
            expect = {"status": SessionStatus.CANCELLED.value, "sequence": sequence + 1}
        if expected_start is not None:
            where["scheduledAt"] = utc_ms(expected_start)
        held = await self.hold_mail(outbox, session_id, expect)
        if len(held) < len(outbox):  # another cancel at this sequence has these ids
            await self.drop_held_mail(held)
            other = await sessions.find_one({"sessionId": session_id}, {"status": 1})
            if other is not None and other["status"] != SessionStatus.SCHEDULED.value:
                raise NotScheduled(f"session {session_id} is not scheduled")
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
            current = await sessions.find_one({"sessionId": session_id})
            if current is None:
                raise NotFound(f"no session {session_id}")
            found = session_from_doc(current)
            if found.status is SessionStatus.SCHEDULED and found.ends_at > now:
                raise SessionChanged(f"session {session_id} changed since it was read", found)
            raise NotScheduled(f"session {session_id} is not scheduled")
        await self.release_mail(held)
        await self._col(CLAIMS).delete_many({"sessionId": session_id})
        return session_from_doc(doc)
