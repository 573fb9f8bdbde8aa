"""Session chat on MongoDB: a mixin of :class:`store.mongo.MongoStore`."""

from __future__ import annotations

import uuid
from dataclasses import replace

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from store.base import Conflict
from store.codec import email_key, from_mongo, utc_ms
from store.models import ChatMessage
from store.mongo_access import MongoAccess
from store.mongo_errors import reachable as _reachable

CHAT = "chatMessages"
CHAT_INDEXES = [
    IndexModel([("messageId", ASCENDING)], unique=True, name="messageId_unique"),
    IndexModel([("sessionId", ASCENDING), ("sentAt", ASCENDING)], name="by_session"),
]


class MongoChat(MongoAccess):
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
