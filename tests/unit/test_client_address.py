"""The client address behind trusted proxies: X-Forwarded-For read from the right."""

from __future__ import annotations

import pytest

from config.settings import HttpSettings
from web.client_address import resolve_client

PROXIES = ("10.0.0.0/8", "192.0.2.1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.1.2.3", [], "10.1.2.3"),  # a trusted proxy that forwarded nothing
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # forged left part skipped
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1, 192.0.2.1"], "198.51.100.1"),  # two proxies
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1, 10.9.9.9"], "198.51.100.1"),  # repeated header
        ("10.1.2.3", ["10.0.0.7, 10.0.0.8"], "10.0.0.7"),  # all trusted: the leftmost
        ("10.1.2.3", ["garbage, 198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["198.51.100.1, garbage"], "10.1.2.3"),  # garbage next to the proxy
        ("10.1.2.3", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("10.1.2.3", ["198.51.100.1:5555"], "198.51.100.1"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, forwarded: list[str], expected: str
) -> None:
    assert resolve_client(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert resolve_client("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        HttpSettings(trusted_proxies=("not-an-address",))
