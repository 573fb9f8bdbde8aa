"""The mail outbox on MongoDB: a mixin of :class:`store.mongo.MongoStore`.

Claims are single-document ``find_one_and_update`` calls filtered on "pending, due, lease
expired", so two nodes never lease the same message at once.

A standalone ``mongod`` has no multi-document transactions, yet a message must go out if and
only if the change it reports was stored. So a change writes its messages first, *held*
(``status: "held"``, with the session id and the fields the session will have once the
change is stored), then makes the change, then releases them (``pending``), or deletes them
when the change failed. A process that dies in between leaves held messages behind; the
sweep run by every claimer looks at those older than :data:`HOLD_TIMEOUT` and releases them
when the session shows the change, or deletes them when it does not. A message is therefore
never sent for a change that did not happen, and never lost for one that did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from store.codec import email_key, from_mongo, utc_ms
from store.models import NEVER, MailKind, MailStatus, OutboxMessage, utcnow
from store.mongo_access import MongoAccess

Doc = dict[str, Any]

OUTBOX = "mailOutbox"
HOLD_TIMEOUT = timedelta(minutes=1)
"""Held messages older than this belong to a change whose writer died: the sweep settles them."""
_DUPLICATE_KEY = 11000

OUTBOX_INDEXES = [
    IndexModel([("messageId", ASCENDING)], unique=True, name="messageId_unique"),
    IndexModel([("status", ASCENDING), ("nextAttemptAt", ASCENDING)], name="due"),
    IndexModel([("recipient", ASCENDING), ("createdAt", DESCENDING)], name="by_recipient"),
]


class MongoOutbox(MongoAccess):
    """Outbox methods; the host class provides ``_col``."""

    @property
    def _outbox(self) -> AsyncCollection[Doc]:
        return self._col(OUTBOX)

    async def _insert_mail(self, docs: list[Doc]) -> list[str]:
        """Insert; ids already queued are skipped. Returns the ids that were new."""
        if not docs:
            return []
        try:
            await self._outbox.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            skipped = {int(e["index"]) for e in errors}
            return [d["messageId"] for i, d in enumerate(docs) if i not in skipped]
        return [d["messageId"] for d in docs]

    async def enqueue_mail(self, messages: Sequence[OutboxMessage]) -> int:
        return len(await self._insert_mail([_doc(m) for m in messages]))

    # --- writing messages together with a change (no transactions) -----------------------
    async def hold_mail(
        self, messages: Sequence[OutboxMessage], session_id: str, expect: Mapping[str, Any]
    ) -> list[str]:
        """Write ``messages`` held, before the change of session ``session_id`` that makes
        the session document match ``expect`` (e.g. ``{"status": "cancelled", "updatedAt":
        at}``). Follow with :meth:`release_mail` after the change, or :meth:`drop_held_mail`
        when it failed. Returns the ids this call inserted, to pass to them: a message whose
        id was already queued belongs to someone else (another writer of the same change), and
        must never be released or dropped on this call's behalf. Fewer ids than messages means
        such a writer exists; callers then give up before changing the session."""
        docs = []
        for message in messages:
            doc = _doc(message)
            doc.update(
                status=MailStatus.HELD.value, heldSession=session_id, heldExpect=dict(expect)
            )
            docs.append(doc)
        return await self._insert_mail(docs)

    async def release_mail(self, message_ids: Sequence[str]) -> None:
        if message_ids:
            await self._outbox.update_many(
                {"messageId": {"$in": list(message_ids)}, "status": MailStatus.HELD.value},
                {"$set": {"status": MailStatus.PENDING.value}},
            )

    async def drop_held_mail(self, message_ids: Sequence[str]) -> None:
        if message_ids:
            await self._outbox.delete_many(
                {"messageId": {"$in": list(message_ids)}, "status": MailStatus.HELD.value}
            )

    async def sweep_held_mail(self, now: datetime) -> int:
        """Settle held messages older than :data:`HOLD_TIMEOUT`; returns how many."""
        settled = 0
        cursor = self._outbox.find(
            {"status": MailStatus.HELD.value, "createdAt": {"$lte": utc_ms(now - HOLD_TIMEOUT)}}
        ).limit(100)
        async for doc in cursor:
            found = await self._col("mentorSessions").find_one(
                {"sessionId": doc.get("heldSession"), **(doc.get("heldExpect") or {})},
                {"_id": 1},
            )
            if found is not None:
                await self.release_mail([doc["messageId"]])
            else:
                await self.drop_held_mail([doc["messageId"]])
            settled += 1
        return settled

    # --- the sender's side -----------------------------------------------------------------
    async def claim_mail(
        self, owner: str, now: datetime, lease_s: float, limit: int
    ) -> list[OutboxMessage]:
        at = utc_ms(now)
        await self.sweep_held_mail(at)
        until = utc_ms(now + timedelta(seconds=lease_s))
        claimed: list[OutboxMessage] = []
        for _ in range(max(limit, 0)):
            doc = await self._outbox.find_one_and_update(
                {
                    "status": MailStatus.PENDING.value,
                    "nextAttemptAt": {"$lte": at},
                    "leaseExpiresAt": {"$lte": at},
                },
                {"$set": {"leaseOwner": owner, "leaseExpiresAt": until}, "$inc": {"attempts": 1}},
                sort=[("nextAttemptAt", ASCENDING), ("messageId", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            claimed.append(_message(doc))
        return claimed

    async def mark_mail_sent(
        self, message_id: str, owner: str, now: datetime, skipped: bool = False
    ) -> bool:
        status = MailStatus.SKIPPED if skipped else MailStatus.SENT
        result = await self._outbox.update_one(
            {"messageId": message_id, "leaseOwner": owner, "status": MailStatus.PENDING.value},
            {
                "$set": {
                    "status": status.value,
                    "sentAt": utc_ms(now),
                    "leaseOwner": None,
                    "leaseExpiresAt": NEVER,
                }
            },
        )
        return result.modified_count == 1

    async def mark_mail_retry(
        self,
        message_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        max_attempts: int,
    ) -> MailStatus | None:
        where: Doc = {
            "messageId": message_id,
            "leaseOwner": owner,
            "status": MailStatus.PENDING.value,
        }
        doc = await self._outbox.find_one(where, {"attempts": 1})
        if doc is None:
            return None
        status = MailStatus.FAILED if int(doc["attempts"]) >= max_attempts else MailStatus.PENDING
        result = await self._outbox.update_one(
            where,
            {
                "$set": {
                    "status": status.value,
                    "lastError": error[:500],
                    "nextAttemptAt": utc_ms(retry_at),
                    "leaseOwner": None,
                    "leaseExpiresAt": NEVER,
                }
            },
        )
        return status if result.modified_count == 1 else None

    async def list_mail_for(self, email: str, limit: int = 50) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        cursor = (
            self._outbox.find(
                {"recipient": email_key(email), "status": {"$ne": MailStatus.HELD.value}}
            )
            .sort([("createdAt", DESCENDING), ("messageId", ASCENDING)])
            .limit(limit)
        )
        return [_message(d) async for d in cursor]

    async def count_mail_due(self, now: datetime) -> int:
        return await self._outbox.count_documents(
            {"status": MailStatus.PENDING.value, "nextAttemptAt": {"$lte": utc_ms(now)}}
        )


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else utc_ms(value)


def _doc(m: OutboxMessage) -> Doc:
    return {
        "messageId": m.message_id,
        "recipient": email_key(m.recipient),
        "subject": m.subject,
        "text": m.text,
        "html": m.html,
        "ics": m.ics,
        "icsMethod": m.ics_method,
        "kind": m.kind.value,
        "sessionId": m.session_id,
        "sequence": m.sequence,
        "sessionStart": _opt(m.session_start),
        "dueAt": utc_ms(m.due_at),
        "status": m.status.value,
        "attempts": m.attempts,
        "lastError": m.last_error,
        "nextAttemptAt": utc_ms(m.next_attempt_at or m.due_at),
        "leaseOwner": m.lease_owner,
        "leaseExpiresAt": utc_ms(m.lease_expires_at),
        "createdAt": utc_ms(m.created_at or utcnow()),
        "sentAt": _opt(m.sent_at),
    }


def _message(d: Doc) -> OutboxMessage:
    def opt(name: str) -> datetime | None:
        value = d.get(name)
        return None if value is None else from_mongo(value)

    return OutboxMessage(
        message_id=d["messageId"],
        recipient=d["recipient"],
        subject=d["subject"],
        text=d["text"],
        html=d.get("html"),
        ics=d.get("ics"),
        ics_method=d.get("icsMethod"),
        kind=MailKind(d["kind"]),
        session_id=d.get("sessionId"),
        sequence=int(d.get("sequence", 0)),
        session_start=opt("sessionStart"),
        due_at=from_mongo(d["dueAt"]),
        status=MailStatus(d["status"]),
        attempts=int(d.get("attempts", 0)),
        last_error=d.get("lastError"),
        next_attempt_at=from_mongo(d["nextAttemptAt"]),
        lease_owner=d.get("leaseOwner"),
        lease_expires_at=from_mongo(d["leaseExpiresAt"]),
        created_at=from_mongo(d["createdAt"]),
        sent_at=opt("sentAt"),
    )
