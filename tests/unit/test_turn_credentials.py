"""TURN REST API credentials and the RTCIceServer list handed to browsers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from config.loader import build_settings
from config.settings import TurnSettings
from turn.credentials import ice_servers, mint
from turn.uris import UriError


def turn_settings(**values: object) -> TurnSettings:
    return build_settings({"turn": dict(values)}).turn


def test_mint_follows_the_turn_rest_scheme() -> None:
    cred = mint("s3cret", "ana@example.org", 600, now=1_700_000_000.7)
    assert cred.username == "1700000600:ana@example.org"
    assert cred.expires_at == 1_700_000_600
    expected = hmac.new(b"s3cret", cred.username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(cred.credential) == expected


def test_mint_changes_with_secret_user_and_time() -> None:
    base = mint("a", "u", 60, now=1000)
    assert mint("b", "u", 60, now=1000).credential != base.credential
    assert mint("a", "v", 60, now=1000).username != base.username
    assert mint("a", "u", 60, now=2000).username != base.username


def test_a_colon_in_the_user_id_cannot_shift_the_expiry() -> None:
    cred = mint("a", "9999999999:evil", 60, now=1000)
    assert cred.username.split(":")[0] == "1060"
    assert cred.username == "1060:9999999999_evil"


@pytest.mark.parametrize(("secret", "ttl"), [("", 60), ("a", 0), ("a", -5)])
def test_mint_refuses_an_empty_secret_or_lifetime(secret: str, ttl: int) -> None:
    with pytest.raises(ValueError, match=r"secret|lifetime"):
        mint(secret, "u", ttl)


def _turn_entry(servers: list[dict[str, object]]) -> dict[str, object]:
    (entry,) = [s for s in servers if "username" in s]
    return entry


@pytest.mark.parametrize(
    "configured",
    [
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
        "turn:turn.example.org:3478",
        "turn:turn.example.org",
    ],
)
def test_udp_and_tcp_are_both_offered_whatever_the_operator_listed(configured: str) -> None:
    settings = turn_settings(uris=[configured], shared_secret="s")
    entry = _turn_entry(ice_servers(settings, "u@example.org", now=1000))
    assert entry["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
    ]


def test_turn_entry_carries_credentials_valid_for_the_configured_ttl() -> None:
    settings = turn_settings(uris=["turn:t.example:3478"], shared_secret="s", ttl_s=900)
    entry = _turn_entry(ice_servers(settings, "u1", now=1000))
    assert entry["username"] == "1900:u1"
    assert entry["credential"] == mint("s", "u1", 900, now=1000).credential


def test_turns_uris_are_kept_and_udp_comes_first() -> None:
    settings = turn_settings(
        uris=["turns:t.example:443?transport=tcp", "turn:t.example:3478"], shared_secret="s"
    )
    entry = _turn_entry(ice_servers(settings, "u"))
    assert entry["urls"] == [
        "turn:t.example:3478?transport=udp",
        "turns:t.example:443?transport=tcp",
        "turn:t.example:3478?transport=tcp",
    ]


def test_stun_is_derived_from_the_turn_hosts_when_not_configured() -> None:
    settings = turn_settings(
        uris=[
            "turn:a.example:3478",
            "turn:a.example:3478?transport=tcp",
            "turn:[2001:db8::1]:3479",
        ],
        shared_secret="s",
    )
    servers = ice_servers(settings, "u")
    assert servers[0] == {"urls": ["stun:a.example:3478", "stun:[2001:db8::1]:3479"]}


def test_configured_stun_uris_win() -> None:
    settings = turn_settings(
        uris=["turn:a.example"], stun_uris=["stun:stun.example:19302"], shared_secret="s"
    )
    assert ice_servers(settings, "u")[0] == {"urls": ["stun:stun.example:19302"]}


def test_without_a_secret_only_stun_is_offered() -> None:
    settings = turn_settings(uris=["turn:a.example"])
    assert ice_servers(settings, "u") == [{"urls": ["stun:a.example:3478"]}]


def test_nothing_configured_gives_an_empty_list() -> None:
    assert ice_servers(TurnSettings(), "u") == []


@pytest.mark.parametrize(
    "bad", ["http://a.example", "stun:a.example", "turn:", "turn:a:99999", "turn:a?transport=sctp"]
)
def test_bad_turn_uris_are_reported(bad: str) -> None:
    with pytest.raises(UriError, match="turn"):
        ice_servers(turn_settings(uris=[bad], shared_secret="s"), "u")
