"""The coturn configuration rendered from our settings."""

from __future__ import annotations

import re

import pytest

from config.loader import build_settings
from config.settings import TurnSettings
from turn.render import RenderError, render_config


def turn_settings(**values: object) -> TurnSettings:
    return build_settings({"turn": {"shared_secret": "s3cret", **values}}).turn


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_production_defaults_have_every_required_directive() -> None:
    lines = directives(render_config(turn_settings()))
    for required in (
        "use-auth-secret",
        "static-auth-secret=s3cret",
        "realm=panamia",
        "listening-port=3478",
        "min-port=49160",
        "max-port=49200",
        "log-file=stdout",
        "pidfile=/var/tmp/turnserver.pid",
        "userdb=/var/lib/coturn/turndb",
        "no-cli",
        "no-tls",
        "no-tcp-relay",
    ):
        assert required in lines
    assert "allow-loopback-peers" not in lines
    assert not any(
        line.startswith(("external-ip", "listening-ip", "allowed-peer-ip", "cert"))
        for line in lines
    )


@pytest.mark.parametrize(
    "denied",
    [
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
        "169.254.0.0-169.254.255.255",
        "::1",
    ],
)
def test_private_and_loopback_peers_are_denied(denied: str) -> None:
    assert f"denied-peer-ip={denied}" in directives(render_config(turn_settings()))


def test_every_line_is_a_directive_coturn_knows_the_shape_of() -> None:
    text = render_config(
        turn_settings(listening_ips=["127.0.0.1"], relay_ips=["127.0.0.1"]),
        cert_file="/c.pem",
        key_file="/k.pem",
        external_ip="203.0.113.7",
        allow_loopback_peers=True,
    )
    for line in directives(text):
        assert re.fullmatch(r"[a-z0-9_-]+(=\S+)?", line), line


def test_tls_listener_only_when_a_certificate_is_given() -> None:
    plain = directives(render_config(turn_settings()))
    assert not any(line.startswith("tls-listening-port") for line in plain)
    from_settings = directives(
        render_config(turn_settings(tls_cert_file="/etc/c.pem", tls_key_file="/etc/k.pem"))
    )
    from_args = directives(
        render_config(turn_settings(), cert_file="/etc/c.pem", key_file="/etc/k.pem")
    )
    for lines in (from_settings, from_args):
        assert "tls-listening-port=443" in lines
        assert "cert=/etc/c.pem" in lines
        assert "pkey=/etc/k.pem" in lines
        assert "no-tls" not in lines


def test_listeners_relay_and_public_address_come_from_settings() -> None:
    settings = turn_settings(
        listening_port=3479,
        listening_ips=["10.0.0.5", "2001:db8::5"],
        relay_ips=["10.0.0.5"],
        relay_min_port=50000,
        relay_max_port=50100,
        external_ip="203.0.113.7/10.0.0.5",
        allowed_peer_ips=["172.30.0.0-172.30.0.255"],
        realm="calls.example.org",
    )
    lines = directives(render_config(settings))
    for expected in (
        "listening-port=3479",
        "listening-ip=10.0.0.5",
        "listening-ip=2001:db8::5",
        "relay-ip=10.0.0.5",
        "min-port=50000",
        "max-port=50100",
        "external-ip=203.0.113.7/10.0.0.5",
        "allowed-peer-ip=172.30.0.0-172.30.0.255",
        "realm=calls.example.org",
    ):
        assert expected in lines
    assert "external-ip=198.51.100.1" in render_config(settings, external_ip="198.51.100.1")


def test_loopback_peers_are_opt_in_for_tests() -> None:
    lines = directives(render_config(turn_settings(), allow_loopback_peers=True))
    assert "allow-loopback-peers" in lines
    assert "allowed-peer-ip=127.0.0.0-127.255.255.255" in lines


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ({"shared_secret": ""}, {}, "shared_secret"),
        ({"tls_cert_file": "/c.pem"}, {}, "tls_key_file"),
        ({}, {"key_file": "/k.pem"}, "tls_cert_file"),
        ({"relay_min_port": 50000, "relay_max_port": 49000}, {}, "relay_min_port"),
        ({"realm": "a\nno-auth"}, {}, "realm"),
        ({}, {"external_ip": "1.2.3.4\nallow-loopback-peers"}, "external_ip"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    values: dict[str, object], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render_config(turn_settings(**values), **kwargs)  # type: ignore[arg-type]
