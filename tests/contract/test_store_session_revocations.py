"""Revoked session tokens: one token at a time (sign-out), or every token of a person issued
until a moment (sign out everywhere)."""

from __future__ import annotations

from datetime import timedelta

from store.base import Store
from tests.contract.conftest import BASE

DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)


async def test_a_revoked_token_is_refused_and_others_are_not(store: Store) -> None:
    assert not await store.session_revoked("ana@example.org", "t1", BASE)
    await store.revoke_session_token("t1", BASE + DAY, BASE)
    await store.revoke_session_token("t1", BASE + DAY, BASE)  # twice is harmless
    assert await store.session_revoked("ana@example.org", "t1", BASE)
    assert not await store.session_revoked("ana@example.org", "t2", BASE)
    assert not await store.session_revoked("bea@example.org", "t3", BASE)


async def test_expired_revocations_are_forgotten(store: Store) -> None:
    await store.revoke_session_token("old", BASE + timedelta(minutes=1), BASE)
    await store.revoke_session_token("new", BASE + 3 * DAY, BASE + 2 * DAY)
    # "old" expired before the second revocation: the token itself is long dead anyway.
    assert not await store.session_revoked("ana@example.org", "old", BASE)
    assert await store.session_revoked("ana@example.org", "new", BASE)


async def test_sign_out_everywhere_refuses_tokens_issued_until_then(store: Store) -> None:
    cut = BASE + timedelta(hours=1)
    await store.revoke_sessions_before("Ana@Example.org", cut, cut + DAY)
    assert await store.session_revoked("ana@example.org", "a", BASE)
    assert await store.session_revoked("ana@example.org", "b", cut)
    assert not await store.session_revoked("ana@example.org", "c", cut + MS)
    assert not await store.session_revoked("bea@example.org", "d", BASE)
    # An earlier cut arriving late never brings older tokens back.
    await store.revoke_sessions_before("ana@example.org", BASE, BASE + DAY)
    assert await store.session_revoked("ana@example.org", "b", cut)
    later = cut + timedelta(hours=1)
    await store.revoke_sessions_before("ana@example.org", later, later + DAY)
    assert await store.session_revoked("ana@example.org", "c", cut + MS)
