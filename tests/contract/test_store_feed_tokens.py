"""Calendar feed tokens: one per person, rotated by replacing, revocable."""

from __future__ import annotations

from datetime import timedelta

from store.base import Store
from tests.contract.conftest import BASE


async def test_one_token_per_person_rotate_and_revoke(store: Store) -> None:
    assert await store.calendar_owner("h1") is None
    assert await store.calendar_token_created("a@example.com") is None
    await store.set_calendar_token("A@example.com", "h1", BASE)
    assert await store.calendar_owner("h1") == "a@example.com"
    assert await store.calendar_token_created("a@example.com") == BASE
    await store.set_calendar_token("a@example.com", "h2", BASE + timedelta(minutes=1))
    assert await store.calendar_owner("h1") is None
    assert await store.calendar_owner("h2") == "a@example.com"
    await store.set_calendar_token("b@example.com", "h3", BASE)
    assert await store.delete_calendar_token("a@example.com")
    assert not await store.delete_calendar_token("a@example.com")
    assert await store.calendar_owner("h2") is None
    assert await store.calendar_owner("h3") == "b@example.com"
