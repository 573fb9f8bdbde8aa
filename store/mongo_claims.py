"""The double-booking guard on MongoDB: one unique claim per (e-mail, 30-minute cell).

A standalone ``mongod`` has no multi-document transactions, so double booking is prevented
by unique keys alone: a booking first inserts one ``slotClaims`` document per (e-mail,
30-minute cell) it occupies, in sorted order, under a unique index. A duplicate key means
the slot is taken: the claims this attempt inserted are deleted and the booking fails with
Conflict. Sorted order means that among bookings competing for a cell one always wins (a
booking that fails holds only keys smaller than the one it failed on, so a chain of failures
ends at a success). Cancelling deletes the session's claims.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError, PyMongoError

from store.codec import from_mongo
from store.models import SessionStatus, slot_cells, utcnow
from store.mongo_access import MongoAccess
from store.mongo_docs import CLAIMS, SESSIONS

log = structlog.get_logger(__name__)

STALE_CLAIM_AGE = timedelta(minutes=2)
"""A claim whose session was never written (its booking died between the two inserts) is
reclaimed once it is this old; a live booking writes its session within milliseconds."""

CLAIM_INDEXES = [
    # The double-booking guard: one document per person and 30-minute cell.
    IndexModel([("email", ASCENDING), ("cell", ASCENDING)], unique=True, name="email_cell"),
    IndexModel([("sessionId", ASCENDING)], name="by_session"),
]


class MongoClaims(MongoAccess):
    """Taking and giving back cells; bookings (``store.mongo_sessions``) and moves
    (``store.mongo_schedule``) build on it."""

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
