"""Room ownership's small parts: the signed hop, the settings, and a single node left alone."""

from __future__ import annotations

import pytest

from config.loader import build_settings
from config.settings import Secret
from panamia.app import create_app
from tests.conftest import SettingsFactory
from web import keys
from web.rooms import hop
from web.rooms.forward import forward_rooms
from web.rooms.lease import Owner

SECRET = Secret("a-shared-auth-secret")


def test_a_hop_verifies_for_its_session_only_with_the_cluster_s_secret() -> None:
    header = hop.sign(SECRET, "s1", "1700000000000001", now=1_000_000)
    assert hop.verify(SECRET, header, "s1", now=1_000_030) == "1700000000000001"
    assert hop.verify(SECRET, header, "s2", now=1_000_030) is None
    assert hop.verify(Secret("another-secret"), header, "s1", now=1_000_030) is None
    assert hop.verify(SECRET, header, "s1", now=1_000_000 + hop.MAX_AGE_S + 1) is None
    session, fence, stamp, mac = header.split(" ")
    assert hop.verify(SECRET, f"{session} 9{fence} {stamp} {mac}", "s1", now=1_000_000) is None
    assert hop.verify(SECRET, "garbage", "s1") is None


def test_a_lease_value_names_its_fence_and_owner() -> None:
    owner = Owner.parse(b"1700000000000001 http://10.0.0.11:8080")
    assert owner == Owner(url="http://10.0.0.11:8080", fence="1700000000000001")
    assert Owner.parse(owner.value) == owner


def test_a_single_node_has_no_forwarding_at_all(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings())
    assert forward_rooms not in app.middlewares
    assert keys.ROOMS not in app


def test_a_cluster_node_forwards_rooms(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        bus={"redis_url": "redis://127.0.0.1:1/0"},
        cluster={"internal_url": "http://10.0.0.11:8080"},
    )
    assert forward_rooms in create_app(settings).middlewares


def test_room_ownership_needs_redis_and_a_sane_lease(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValueError, match=r"bus\.redis_url"):
        create_app(make_settings(cluster={"internal_url": "http://10.0.0.11:8080"}))
    with pytest.raises(Exception, match=r"lease_ttl_s"):
        build_settings({"cluster": {"lease_ttl_s": 30}})
    with pytest.raises(Exception, match=r"internal_url"):
        build_settings({"cluster": {"internal_url": "10.0.0.11:8080"}})
