"""Discovery: enabled mentors only, case-insensitive substring tag filters, paging."""

from __future__ import annotations

from dataclasses import replace

import pytest

from store.base import DiscoverQuery, Store
from store.models import Profile
from tests.contract.conftest import mentor


@pytest.fixture
async def mentors(store: Store) -> Store:
    for profile in (
        mentor("zoe@example.com", "Zoe", ("Économie", "Finance"), ("Français",), rate=30),
        mentor("amy@example.com", "amy", ("Python", "Data Science"), ("English", "Deutsch")),
        mentor("bob@example.com", "Bob", ("python",), ("Español",), rate=10),
        mentor("al@example.com", "Amy", ("C++", "Rust"), ("English",)),
        mentor("off@example.com", "Aaron", ("Python",), ("English",), enabled=False),
    ):
        await store.save_profile(profile)
    await store.ensure_profile("plain@example.com", "Plain Member")
    return store


def emails(profiles: list[Profile]) -> list[str]:
    return [p.email for p in profiles]


async def test_only_enabled_mentors_ordered_by_name_then_email(mentors: Store) -> None:
    page = await mentors.discover(DiscoverQuery())
    # Names compare case-insensitively: "amy" and "Amy" tie and fall back to the e-mail.
    assert emails(page.mentors) == [
        "al@example.com",
        "amy@example.com",
        "bob@example.com",
        "zoe@example.com",
    ]
    assert page.total == 4


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ÉCONOMIE", ["zoe@example.com"]),
        ("économie", ["zoe@example.com"]),
        ("conom", ["zoe@example.com"]),
        ("PYTH", ["amy@example.com", "bob@example.com"]),
        ("science", ["amy@example.com"]),
        ("c++", ["al@example.com"]),
        ("c.+", []),
        ("%", []),
        ("_", []),
        ("\\", []),
        ("py\x00", []),
        ("(", []),
        ("ruby", []),
    ],
)
async def test_expertise_filter_is_a_case_insensitive_substring(
    mentors: Store, typed: str, expected: list[str]
) -> None:
    page = await mentors.discover(DiscoverQuery(expertise=typed))
    assert emails(page.mentors) == expected
    assert page.total == len(expected)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("english", ["al@example.com", "amy@example.com"]),
        ("FRANÇAIS", ["zoe@example.com"]),
        ("pañ", ["bob@example.com"]),
        ("DEUT", ["amy@example.com"]),
    ],
)
async def test_language_filter_is_a_case_insensitive_substring(
    mentors: Store, typed: str, expected: list[str]
) -> None:
    page = await mentors.discover(DiscoverQuery(language=typed))
    assert emails(page.mentors) == expected


async def test_filters_combine(mentors: Store) -> None:
    page = await mentors.discover(DiscoverQuery(expertise="python", language="english"))
    assert emails(page.mentors) == ["amy@example.com"]


async def test_free_only(mentors: Store) -> None:
    page = await mentors.discover(DiscoverQuery(free_only=True))
    assert emails(page.mentors) == ["al@example.com", "amy@example.com"]
    assert page.total == 2


async def test_exclude_self(mentors: Store) -> None:
    page = await mentors.discover(DiscoverQuery(exclude_email="AMY@example.com"))
    assert "amy@example.com" not in emails(page.mentors)
    assert page.total == 3


async def test_disabling_hides_a_mentor(mentors: Store) -> None:
    bob = await mentors.get_profile("bob@example.com")
    assert bob is not None
    await mentors.update_mentoring(bob.email, replace(bob.mentoring, enabled=False))
    page = await mentors.discover(DiscoverQuery(expertise="python"))
    assert emails(page.mentors) == ["amy@example.com"]


async def test_pagination_keeps_the_total(mentors: Store) -> None:
    first = await mentors.discover(DiscoverQuery(limit=3, offset=0))
    second = await mentors.discover(DiscoverQuery(limit=3, offset=3))
    beyond = await mentors.discover(DiscoverQuery(limit=3, offset=10))
    assert emails(first.mentors) == ["al@example.com", "amy@example.com", "bob@example.com"]
    assert emails(second.mentors) == ["zoe@example.com"]
    assert beyond.mentors == []
    assert first.total == second.total == beyond.total == 4


async def test_discover_returns_whole_profiles(mentors: Store) -> None:
    page = await mentors.discover(DiscoverQuery(expertise="finance"))
    assert page.mentors == [await mentors.get_profile("zoe@example.com")]
