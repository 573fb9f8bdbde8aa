"""Profiles: create, read, replace, the mentoring part, and how datetimes come back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from store.base import NotFound, Store, StoreUnavailable
from store.models import MentoringProfile, Profile
from tests.contract.conftest import mentor


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_ping_after_close_reports_unavailable(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_ensure_profile_creates_once_and_lowercases(store: Store) -> None:
    first = await store.ensure_profile("Ana@Example.COM", "Ana")
    assert first.email == "ana@example.com"
    assert first.name == "Ana"
    assert first.mentoring == MentoringProfile()

    again = await store.ensure_profile("ana@example.com", "Someone Else")
    assert again == first  # the existing profile wins, untouched

    assert await store.get_profile("ANA@example.com") == first


async def test_get_unknown_profile_is_none(store: Store) -> None:
    assert await store.get_profile("nobody@example.com") is None


async def test_save_profile_inserts_and_replaces(store: Store) -> None:
    created = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    profile = Profile(
        email="Bo@Example.com",
        name="Bo Diaz",
        avatar_url="https://example.com/bo.png",
        time_zone="America/New_York",
        mentoring=MentoringProfile(
            enabled=True,
            bio="I teach data engineering.",
            expertise=("Data", "Économie"),
            languages=("Español", "English"),
            video_intro_url="https://example.com/intro.mp4",
            goals="Help people switch careers",
            hourly_rate=42.5,
        ),
        created_at=created,
        updated_at=created,
    )
    saved = await store.save_profile(profile)
    assert saved == replace(profile, email="bo@example.com")
    assert await store.get_profile("bo@example.com") == saved

    later = created + timedelta(days=1)
    changed = replace(saved, name="Bo D.", avatar_url=None, updated_at=later)
    assert await store.save_profile(changed) == changed
    fetched = await store.get_profile("bo@example.com")
    assert fetched == changed
    assert fetched is not None and fetched.mentoring.expertise == ("Data", "Économie")


async def test_update_mentoring_replaces_only_that_part(store: Store) -> None:
    await store.save_profile(mentor("cy@example.com", "Cy", expertise=("Go",)))
    new = MentoringProfile(
        enabled=False, bio="Now on a break from mentoring.", expertise=("Rust", "Go")
    )
    updated = await store.update_mentoring("CY@example.com", new)
    assert updated.mentoring == new
    assert updated.name == "Cy"
    assert await store.get_profile("cy@example.com") == updated


async def test_update_mentoring_of_unknown_profile_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update_mentoring("ghost@example.com", MentoringProfile(enabled=True))
    assert await store.get_profile("ghost@example.com") is None


async def test_datetimes_come_back_aware_utc_in_milliseconds(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    given = datetime(2030, 6, 1, 11, 30, 15, 123456, tzinfo=plus_two)
    await store.save_profile(Profile(email="dt@example.com", created_at=given, updated_at=given))
    fetched = await store.get_profile("dt@example.com")
    assert fetched is not None
    expected = datetime(2030, 6, 1, 9, 30, 15, 123000, tzinfo=UTC)
    for value in (fetched.created_at, fetched.updated_at):
        assert value == expected
        assert value.tzinfo is UTC
        assert value.microsecond == 123000


async def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2030, 6, 1, 9, 0)
    with pytest.raises(ValueError, match="naive"):
        await store.save_profile(Profile(email="naive@example.com", created_at=naive))
    assert await store.get_profile("naive@example.com") is None
