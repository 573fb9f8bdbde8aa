"""Chat history and single-use sign-in tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from store.base import Store
from store.models import ChatMessage
from tests.contract.conftest import BASE


async def test_chat_is_oldest_first_and_keeps_the_last_n(store: Store) -> None:
    sent = []
    for i in range(5):
        sent.append(
            await store.add_chat_message(
                ChatMessage(
                    session_id="s1",
                    sender="Ana@example.com",
                    text=f"message {i} ✓",
                    sent_at=BASE + timedelta(seconds=i, microseconds=1234),
                    sender_name="Ana",
                )
            )
        )
    await store.add_chat_message(ChatMessage(session_id="s2", sender="b@example.com", text="x"))

    assert all(len(m.message_id) == 32 for m in sent)
    assert len({m.message_id for m in sent}) == 5
    assert sent[0].sender == "ana@example.com"
    assert sent[0].sent_at == BASE + timedelta(milliseconds=1)

    history = await store.list_chat("s1")
    assert history == sent
    assert [m.text for m in await store.list_chat("s1", limit=2)] == ["message 3 ✓", "message 4 ✓"]
    assert await store.list_chat("unknown") == []


async def test_chat_keeps_insertion_order_within_one_millisecond(store: Store) -> None:
    at = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    for text in ("first", "second", "third"):
        await store.add_chat_message(ChatMessage("s", "a@example.com", text, sent_at=at))
    assert [m.text for m in await store.list_chat("s")] == ["first", "second", "third"]


async def test_chat_message_keeps_a_given_id(store: Store) -> None:
    message = ChatMessage("s", "a@example.com", "hi", sent_at=BASE, message_id="given-id")
    assert (await store.add_chat_message(message)) == message
    assert await store.list_chat("s") == [message]


async def test_login_token_is_single_use(store: Store) -> None:
    await store.add_login_token("hash-1", "Ana@Example.com", BASE + timedelta(minutes=15))
    assert await store.consume_login_token("hash-1", BASE) == "ana@example.com"
    assert await store.consume_login_token("hash-1", BASE) is None


async def test_login_token_concurrent_consumers_get_it_once(store: Store) -> None:
    await store.add_login_token("hash-c", "ana@example.com", BASE + timedelta(minutes=15))
    results = await asyncio.gather(*(store.consume_login_token("hash-c", BASE) for _ in range(20)))
    assert results.count("ana@example.com") == 1
    assert results.count(None) == 19


async def test_login_token_expires(store: Store) -> None:
    expiry = BASE + timedelta(minutes=15)
    await store.add_login_token("hash-2", "ana@example.com", expiry)
    assert await store.consume_login_token("hash-2", expiry) is None
    assert await store.consume_login_token("hash-2", expiry + timedelta(seconds=1)) is None
    # Still unused: just before expiry it would have worked.
    assert await store.consume_login_token("hash-2", expiry - timedelta(milliseconds=1)) == (
        "ana@example.com"
    )


async def test_unknown_login_token(store: Store) -> None:
    assert await store.consume_login_token("never-issued", BASE) is None


async def test_count_login_tokens_since(store: Store) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    for i in range(3):
        await store.add_login_token(f"h{i}", "Ana@example.com", BASE)
    await store.add_login_token("other", "bob@example.com", BASE)
    assert await store.count_login_tokens_since("ana@example.com", start) == 3
    assert await store.count_login_tokens_since("ANA@example.com", start) == 3
    assert await store.count_login_tokens_since("bob@example.com", start) == 1
    assert await store.count_login_tokens_since("ana@example.com", start + timedelta(hours=1)) == 0
