"""Scheduling on MongoDB: a mentor's availability and moving a session without transactions.

A standalone ``mongod`` cannot delete the old claims and insert the new ones atomically, so
a move runs in three steps, each safe on its own:

1. **Claim** the cells of the new time that the session does not already hold, in sorted
   order, under the unique (email, cell) index (as a booking does). A duplicate key means
   another session holds one: the claims just inserted are deleted and the move fails
   (SlotTaken); nothing else changed.
2. **Switch** the session with one conditional ``find_one_and_update``: it matches only if the
   session is still scheduled, at the start and ``sequence`` this move read. So two moves
   (or a move and a cancel) of the same session cannot both apply; the loser deletes the
   claims it took in step 1 and fails (NotScheduled).
3. **Release** the cells of the old time the new time does not reuse.

The move's mail is written *held* before step 1 and released after step 2 (dropped if the
move fails): a held message is never sent, and one whose writer died is settled by the
outbox's sweep, which releases it if the session's history holds this move (see
docs/mail.md).

The window: between steps 1 and 3 the session holds both its old and its new cells. Nobody
can book either, so the session never loses its time (if the switch fails, the old cells were
never released) and no time is ever held by two sessions (every holder inserted its own
claim under the unique index, which has exactly one winner). If the process dies inside the
window, the leftover claims are those of step 1 (before the switch) or step 3 (after it):
both lie outside the session's current time, and a later booking that meets one removes it
once it is older than ``STALE_CLAIM_AGE`` (see ``store.mongo_claims``), the same rule
that already covers a booking that died between its claims and its session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from store.base import NotFound, NotScheduled, SlotTaken
from store.codec import claim_keys, email_key, mail_fits_move, utc_ms
from store.models import (
    Availability,
    OutboxMessage,
    Profile,
    Session,
    SessionChange,
    SessionStatus,
    utcnow,
)
from store.mongo_access import MongoHeldMail
from store.mongo_claims import MongoClaims
from store.mongo_docs import (
    CLAIMS,
    PROFILES,
    SESSIONS,
    Doc,
    availability_doc,
    change_doc,
    profile_from_doc,
    session_from_doc,
)
from store.mongo_errors import reachable

log = structlog.get_logger(__name__)


class MongoSchedule(MongoClaims, MongoHeldMail):
    """Mixed into :class:`store.mongo.MongoStore`; cells are taken and given back through
    :class:`store.mongo_claims.MongoClaims`."""

    @reachable
    async def set_availability(self, email: str, availability: Availability | None) -> Profile:
        doc = await self._col(PROFILES).find_one_and_update(
            {"email": email_key(email)},
            {"$set": {"availability": availability_doc(availability), "updatedAt": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"no profile for {email_key(email)}")
        return profile_from_doc(doc)

    @reachable
    async def reschedule_session(
        self,
        session_id: str,
        by: str,
        new_start: datetime,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
    ) -> Session:
        start, at = utc_ms(new_start), utc_ms(now)
        sessions = self._col(SESSIONS)
        found = await sessions.find_one({"sessionId": session_id})
        if found is None:
            raise NotFound(f"no session {session_id}")
        old = session_from_doc(found)
        if old.status is not SessionStatus.SCHEDULED or old.scheduled_at <= at:
            raise NotScheduled(f"session {session_id} is not upcoming")
        if not mail_fits_move(outbox, session_id, old.sequence + 1):
            raise NotScheduled(f"session {session_id} changed meanwhile")
        held = set(claim_keys(old.mentor_email, old.mentee_email, old.scheduled_at, old.duration))
        wanted = claim_keys(old.mentor_email, old.mentee_email, start, old.duration)
        change = SessionChange(by=email_key(by), at=at, from_start=old.scheduled_at, to_start=start)
        # The move's history entry is what the sweep looks for if we die before releasing.
        mail = await self.hold_mail(
            outbox, session_id, {"history": {"$elemMatch": change_doc(change)}}
        )
        if len(mail) < len(outbox):  # another move of this session holds these ids
            await self.drop_held_mail(mail)
            raise NotScheduled(f"session {session_id} changed meanwhile")
        try:
            doc = await self._move(old, held, wanted, change)
        except BaseException:
            await self.drop_held_mail(mail)
            raise
        await self.release_mail(mail)

        # Step 3. Both people hold the same cells, so the old-only cells name every claim
        # to release.
        released = sorted({cell for _email, cell in held - set(wanted)})
        if released:
            try:
                await self._col(CLAIMS).delete_many(
                    {"sessionId": session_id, "cell": {"$in": released}}
                )
            except PyMongoError:
                # The move is done; the leftovers lie outside the session's time and are
                # reclaimed by the next booking that meets them.
                log.warning("mongo.old_claims_not_released", session_id=session_id)
        return session_from_doc(doc)

    async def _move(
        self,
        old: Session,
        held: set[tuple[str, datetime]],
        wanted: list[tuple[str, datetime]],
        change: SessionChange,
    ) -> Doc:
        """Steps 1 and 2: claim the new cells, then switch the session (see the module's
        docstring). Leaves nothing claimed when it fails."""
        session_id, start = old.session_id, change.to_start
        claimed: list[ObjectId] = []  # step 1
        try:
            for email, cell in wanted:
                if (email, cell) not in held:
                    claimed.append(await self._claim(email, cell, session_id))
        except DuplicateKeyError as exc:
            await self._release(claimed)
            raise SlotTaken("the new time is taken") from exc
        except BaseException:
            await self._release(claimed)
            raise

        try:  # step 2
            doc = await self._col(SESSIONS).find_one_and_update(
                {
                    "sessionId": session_id,
                    "status": SessionStatus.SCHEDULED.value,
                    "scheduledAt": old.scheduled_at,
                    "sequence": {"$in": [old.sequence, None]}
                    if old.sequence == 0
                    else old.sequence,
                },
                {
                    "$set": {
                        "scheduledAt": start,
                        "endsAt": start + (old.ends_at - old.scheduled_at),
                        "updatedAt": change.at,
                        "sequence": old.sequence + 1,
                    },
                    "$push": {"history": change_doc(change)},
                },
                return_document=ReturnDocument.AFTER,
            )
        except BaseException:
            await self._release(claimed)
            raise
        if doc is None:
            await self._release(claimed)
            raise NotScheduled(f"session {session_id} changed meanwhile")
        return doc
