"""STUN/TURN URI parsing and printing."""

from __future__ import annotations

import pytest

from turn.uris import IceUri, UriError, parse_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stun:stun.example.org", IceUri("stun", "stun.example.org", 3478)),
        ("turn:203.0.113.7:3479", IceUri("turn", "203.0.113.7", 3479)),
        ("turns:t.example", IceUri("turns", "t.example", 5349)),
        ("TURN:t.example?transport=TCP", IceUri("turn", "t.example", 3478, "tcp")),
        ("turn:[2001:db8::1]:3478?transport=udp", IceUri("turn", "2001:db8::1", 3478, "udp")),
        ("stun:[::1]", IceUri("stun", "::1", 3478)),
    ],
)
def test_parse(text: str, expected: IceUri) -> None:
    assert parse_uri(text) == expected


@pytest.mark.parametrize(
    ("uri", "text"),
    [
        (IceUri("turn", "2001:db8::1", 3478, "udp"), "turn:[2001:db8::1]:3478?transport=udp"),
        (IceUri("stun", "s.example", 3478), "stun:s.example:3478"),
        (IceUri("turns", "t.example", 443, "tcp"), "turns:t.example:443?transport=tcp"),
    ],
)
def test_print_round_trips(uri: IceUri, text: str) -> None:
    assert str(uri) == text
    assert parse_uri(text) == uri


def test_effective_transport() -> None:
    assert parse_uri("turn:a").effective_transport == "udp"
    assert parse_uri("turns:a").effective_transport == "tcp"
    assert parse_uri("turn:a?transport=tcp").effective_transport == "tcp"


@pytest.mark.parametrize(
    "bad",
    [
        "a.example:3478",
        "https://a.example",
        "turn:",
        "turn::3478",
        "turn:a:0",
        "turn:a:port",
        "turn:a?foo=bar",
        "stun:a?transport=udp",
        "turn:[::1",
        "turn:[::1]x",
    ],
)
def test_bad_uris_raise_with_the_text(bad: str) -> None:
    with pytest.raises(UriError) as caught:
        parse_uri(bad)
    assert repr(bad.strip()) in str(caught.value)
