"""The hub's hook for mentoring chat: which client events are kept, refused or passed."""

from __future__ import annotations

from typing import Any, cast

import pytest

from signaling.persisted import KEEP, PASS, PersistNothing, Sender
from store.base import Store
from store.models import ChatMessage
from store.validation import CHAT_TEXT_MAX
from web.session_chat import SessionChat

CHANNEL = "presence-session-abc123"


class KeptMessages:
    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []

    async def add_chat_message(self, message: ChatMessage) -> ChatMessage:
        self.messages.append(message)
        return message


def chat(kept: KeptMessages | None = None) -> SessionChat:
    return SessionChat(cast(Store, kept or KeptMessages()))


@pytest.mark.parametrize(
    ("channel", "event"),
    [
        ("private-session-abc123", "client-chat-message"),
        (CHANNEL, "client-offer"),
        ("presence-lobby", "client-chat-message"),
    ],
)
def test_other_events_and_channels_pass(channel: str, event: str) -> None:
    assert chat().review(channel, event, {"text": "x" * (CHAT_TEXT_MAX + 1)}) is PASS


@pytest.mark.parametrize(
    "data",
    [{"text": "Hola"}, {"message": "Hola"}, '{"text": "Hola"}', {"text": "y" * CHAT_TEXT_MAX}],
)
def test_chat_following_the_rule_is_kept(data: Any) -> None:
    assert chat().review(CHANNEL, "client-chat-message", data) is KEEP


@pytest.mark.parametrize(
    "data",
    [{"text": "y" * (CHAT_TEXT_MAX + 1)}, {"text": " \n "}, {"text": 5}, {}, ["Hola"], "Hola"],
)
def test_chat_breaking_the_rule_is_refused_with_a_reason(data: Any) -> None:
    review = chat().review(CHANNEL, "client-chat-message", data)
    assert not review.keep
    assert review.refusal


async def test_kept_chat_names_the_session_the_sender_and_the_trimmed_text() -> None:
    kept = KeptMessages()
    sender = Sender("mentee@example.org", {"name": "Mateo", "role": "mentee"})
    await chat(kept).persist(CHANNEL, "client-chat-message", {"text": "  Hola!  "}, sender)
    (message,) = kept.messages
    assert (message.session_id, message.sender, message.sender_name, message.text) == (
        "abc123",
        "mentee@example.org",
        "Mateo",
        "Hola!",
    )


async def test_the_hub_default_keeps_nothing() -> None:
    nothing = PersistNothing()
    assert nothing.review(CHANNEL, "client-chat-message", {"text": "Hola"}) is PASS
    await nothing.persist(CHANNEL, "client-chat-message", {}, Sender(None))
