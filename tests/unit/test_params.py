"""Query strings and path parameters: text from the URL in, typed values out."""

from __future__ import annotations

from typing import Any

import pytest

from store.validation import ValidationError
from web import params as p


def field_of(fn: Any, *args: Any) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args)
    return info.value.field


def test_discover_filters() -> None:
    filters = p.parse_discover(
        [("expertise", " py "), ("freeOnly", "true"), ("page", "3"), ("limit", "10")]
    )
    assert filters == p.DiscoverFilters("py", None, True, 3, 10)
    assert filters.offset == 20
    assert p.parse_discover([]) == p.DiscoverFilters(None, None, False, 1, 20)


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ([("freeOnly", "maybe")], "freeOnly"),
        ([("page", "0")], "page"),
        ([("page", "-1")], "page"),
        ([("limit", "101")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("expertise", "x" * 51)], "expertise"),
        ([("language", "a"), ("language", "b")], "language"),
        ([("sort", "name")], "sort"),
    ],
)
def test_bad_discover_filter_names_the_parameter(pairs: list[tuple[str, str]], field: str) -> None:
    assert field_of(p.parse_discover, pairs) == field


def test_session_filters() -> None:
    assert p.parse_session_filters([]) == p.SessionFilters("all", None)
    assert p.parse_session_filters([("role", "mentor"), ("status", "completed")]) == (
        p.SessionFilters("mentor", "completed")
    )
    assert field_of(p.parse_session_filters, [("role", "boss")]) == "role"
    assert field_of(p.parse_session_filters, [("status", "done")]) == "status"


def test_session_ids_fit_pusher_channel_names() -> None:
    assert p.is_session_id("AbC-_09")
    for bad in ("", "a/b", "a b", "x" * 65, "é", "a.b"):
        assert not p.is_session_id(bad)
