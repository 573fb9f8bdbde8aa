"""Parse and print STUN/TURN URIs (RFC 7064 and RFC 7065).

``stun:host[:port]``, ``turn:host[:port][?transport=udp|tcp]`` and
``turns:host[:port][?transport=tcp]``; IPv6 hosts go in brackets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scheme = Literal["stun", "stuns", "turn", "turns"]
Transport = Literal["udp", "tcp"]

DEFAULT_PORTS: dict[str, int] = {"stun": 3478, "turn": 3478, "stuns": 5349, "turns": 5349}
_SCHEMES: dict[str, Scheme] = {"stun": "stun", "stuns": "stuns", "turn": "turn", "turns": "turns"}


class UriError(ValueError):
    """A STUN/TURN URI that cannot be understood; the message quotes it."""


@dataclass(frozen=True)
class IceUri:
    scheme: Scheme
    host: str
    port: int
    transport: Transport | None = None
    """The explicit ``?transport=`` value, if any."""

    @property
    def secure(self) -> bool:
        return self.scheme in ("stuns", "turns")

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    @property
    def effective_transport(self) -> Transport:
        """The transport a client uses: TLS URIs run over TCP, plain ones default to UDP."""
        if self.transport is not None:
            return self.transport
        return "tcp" if self.secure else "udp"

    def with_transport(self, transport: Transport) -> IceUri:
        return IceUri(self.scheme, self.host, self.port, transport)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.scheme}:{host}:{self.port}"
        if self.transport is not None and self.is_turn:
            text += f"?transport={self.transport}"
        return text


def parse_uri(text: str) -> IceUri:
    scheme_text, sep, rest = text.strip().partition(":")
    scheme = _SCHEMES.get(scheme_text.lower())
    if not sep or scheme is None:
        raise UriError(f"{text!r}: expected stun:, stuns:, turn: or turns: followed by a host")
    rest = rest.removeprefix("//")
    rest, _, query = rest.partition("?")
    transport: Transport | None = None
    if query:
        key, _, value = query.partition("=")
        value = value.lower()
        if key.lower() != "transport" or value not in ("udp", "tcp"):
            raise UriError(f"{text!r}: the only query allowed is ?transport=udp or ?transport=tcp")
        if not scheme.startswith("turn"):
            raise UriError(f"{text!r}: ?transport= belongs to turn: and turns: URIs only")
        transport = "udp" if value == "udp" else "tcp"
    if rest.startswith("["):
        host, bracket, after = rest[1:].partition("]")
        if not bracket:
            raise UriError(f"{text!r}: unclosed [ in the host")
        port_text = after.removeprefix(":") if after.startswith(":") else None
        if after and port_text is None:
            raise UriError(f"{text!r}: unexpected text after the host")
    else:
        host, colon, port_text_raw = rest.partition(":")
        port_text = port_text_raw if colon else None
    if not host:
        raise UriError(f"{text!r}: the host is missing")
    port = DEFAULT_PORTS[scheme]
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UriError(f"{text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    return IceUri(scheme, host, port, transport)
