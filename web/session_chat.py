"""Mentoring chat as the hub sees it: which client events are chat, whether they follow the
rule, and where they are kept.

The room pages send chat as ``client-chat-message`` on ``presence-session-{id}`` through the
hub, not through the API, so the hub is handed a :class:`SessionChat` (see
``signaling.persisted``) by the composition root. A message must follow the same rule as
``POST /api/mentoring/sessions/{id}/chat`` (``store.validation.parse_chat_text``: 1 to
``CHAT_TEXT_MAX`` characters once trimmed). One that does not is refused: the hub answers
the sender with a ``pusher:error`` (code 4302) and neither delivers nor keeps it, so the other
participant never sees a message that the history would not show.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from signaling.persisted import KEEP, PASS, Review, Sender, refuse
from store.base import Store
from store.models import ChatMessage
from store.validation import ValidationError, parse_chat_text

CHAT_CHANNEL_PREFIX = "presence-session-"
CHAT_EVENT = "client-chat-message"


class SessionChat:
    """Keeps the chat of every session's presence channel in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def review(self, channel: str, event: str, data: Any) -> Review:
        if event != CHAT_EVENT or not channel.startswith(CHAT_CHANNEL_PREFIX):
            return PASS
        try:
            chat_text(data)
        except ValidationError as exc:
            return refuse(exc.message)
        return KEEP

    async def persist(self, channel: str, event: str, data: Any, sender: Sender) -> None:
        if sender.user_id is None:
            return
        name = sender.user_info.get("name")
        message = ChatMessage(
            session_id=channel.removeprefix(CHAT_CHANNEL_PREFIX),
            sender=sender.user_id,
            text=chat_text(data),
            sender_name=name if isinstance(name, str) else "",
        )
        await self._store.add_chat_message(message)


def chat_text(data: Any) -> str:
    """The checked text of a chat event's data: ``{"text": ...}`` (or ``"message"``), as an
    object or as a JSON string of one. Raises ValidationError naming ``text``."""
    if isinstance(data, str):
        with contextlib.suppress(ValueError, RecursionError):  # deep nesting is not a chat
            data = json.loads(data)
    if not isinstance(data, dict):
        raise ValidationError("text", "A chat message is an object with a text")
    return parse_chat_text(data.get("text", data.get("message")))
