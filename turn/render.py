"""Render coturn's ``turnserver.conf`` from our settings (``panamia turn-config``)."""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from turn.credentials import RevealsSecret

# coturn's ip[-ip] ranges that are never relay targets: RFC 1918, loopback, "this network",
# shared address space (RFC 6598), link-local, IETF protocol assignments, benchmarking,
# multicast and reserved, and their IPv6 counterparts (loopback, unique local, link-local).
DENIED_PEER_RANGES: tuple[str, ...] = (
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "224.0.0.0-255.255.255.255",
    "::1",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
)
LOOPBACK_RANGE = "127.0.0.0-127.255.255.255"
TEMPLATE = Path(__file__).with_name("turnserver.conf.in")


class CoturnSettings(Protocol):
    """What :func:`render_config` reads; ``config.settings.TurnSettings`` has it all."""

    @property
    def shared_secret(self) -> RevealsSecret: ...

    @property
    def realm(self) -> str: ...

    @property
    def listening_port(self) -> int: ...

    @property
    def listening_ips(self) -> Sequence[str]: ...

    @property
    def tls_port(self) -> int: ...

    @property
    def tls_cert_file(self) -> str: ...

    @property
    def tls_key_file(self) -> str: ...

    @property
    def relay_ips(self) -> Sequence[str]: ...

    @property
    def relay_min_port(self) -> int: ...

    @property
    def relay_max_port(self) -> int: ...

    @property
    def external_ip(self) -> str: ...

    @property
    def allowed_peer_ips(self) -> Sequence[str]: ...

    @property
    def log_file(self) -> str: ...

    @property
    def pidfile(self) -> str: ...

    @property
    def userdb(self) -> str: ...


class RenderError(ValueError):
    """The settings cannot make a working coturn configuration; the message says which."""


def render_config(
    turn: CoturnSettings,
    *,
    cert_file: str | None = None,
    key_file: str | None = None,
    external_ip: str | None = None,
    allow_loopback_peers: bool = False,
) -> str:
    """The text of ``turnserver.conf``.

    ``cert_file``, ``key_file`` and ``external_ip`` override the settings of the same name.
    ``allow_loopback_peers`` lets coturn relay to 127.0.0.0/8: only for tests on one machine,
    never in production (anyone with credentials could then reach the server's local services).
    """
    secret = turn.shared_secret.reveal()
    if not secret:
        raise RenderError(
            "turn.shared_secret is empty: set it (or PANAMIA_TURN__SHARED_SECRET_FILE) so coturn"
            " and the app share the same secret"
        )
    if not 0 < turn.relay_min_port <= turn.relay_max_port < 65536:
        raise RenderError("turn.relay_min_port must be at most turn.relay_max_port, both 1-65535")
    cert = turn.tls_cert_file if cert_file is None else cert_file
    key = turn.tls_key_file if key_file is None else key_file
    if bool(cert) != bool(key):
        raise RenderError("TLS needs both turn.tls_cert_file and turn.tls_key_file")
    public_ip = turn.external_ip if external_ip is None else external_ip
    for name, value in (
        ("realm", turn.realm),
        ("log_file", turn.log_file),
        ("pidfile", turn.pidfile),
        ("userdb", turn.userdb),
        ("external_ip", public_ip),
        ("tls_cert_file", cert),
        ("tls_key_file", key),
        ("shared_secret", secret),
    ):
        if "\n" in value or "\r" in value:
            raise RenderError(f"turn.{name} must be a single line")
    if cert:
        tls = (
            f"tls-listening-port={turn.tls_port}\ncert={cert}\npkey={key}\n"
            "no-tlsv1\nno-tlsv1_1\nno-dtls\n"
        )
    else:
        tls = "no-tls\nno-dtls\n"
    allowed = list(turn.allowed_peer_ips)
    if allow_loopback_peers:
        allowed.append(LOOPBACK_RANGE)
    allowed_lines = "".join(f"allowed-peer-ip={ip}\n" for ip in allowed)
    if allow_loopback_peers:
        allowed_lines = (
            f"# Tests only: relaying to loopback.\nallow-loopback-peers\n{allowed_lines}"
        )
    template = string.Template(TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        shared_secret=secret,
        realm=turn.realm,
        tls_title=", TURN over TLS" if cert else "",
        listening_port=turn.listening_port,
        listening_ips="".join(f"listening-ip={ip}\n" for ip in turn.listening_ips),
        tls=tls,
        relay_ips="".join(f"relay-ip={ip}\n" for ip in turn.relay_ips),
        relay_min_port=turn.relay_min_port,
        relay_max_port=turn.relay_max_port,
        external_ip=f"external-ip={public_ip}\n" if public_ip else "",
        denied_peer_ips="".join(f"denied-peer-ip={r}\n" for r in DENIED_PEER_RANGES),
        allowed_peer_ips=allowed_lines,
        log_file=turn.log_file,
        pidfile=turn.pidfile,
        userdb=turn.userdb,
    )


def write_config(path: str | os.PathLike[str], text: str) -> None:
    """Write a rendered config readable by its owner only: it holds the shared secret."""
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    target.chmod(0o600)  # an existing file keeps its old mode through os.open
