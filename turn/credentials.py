"""Short-lived TURN credentials (the TURN REST API scheme coturn's ``use-auth-secret`` checks).

username = ``"<expiry-unix>:<user-id>"``, credential = ``base64(HMAC-SHA1(secret, username))``.
coturn recomputes the HMAC with its ``static-auth-secret`` and refuses the username once the
expiry has passed, so nothing is stored and nothing has to be revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from turn.uris import IceUri, UriError, parse_uri

log = structlog.get_logger(__name__)


class RevealsSecret(Protocol):
    def reveal(self) -> str: ...

    def __bool__(self) -> bool: ...


class IceSettings(Protocol):
    """What :func:`ice_servers` reads; ``config.settings.TurnSettings`` has it all."""

    @property
    def uris(self) -> Sequence[str]: ...

    @property
    def stun_uris(self) -> Sequence[str]: ...

    @property
    def shared_secret(self) -> RevealsSecret: ...

    @property
    def ttl_s(self) -> int: ...


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int
    """Unix time after which coturn refuses the credential."""


def mint(secret: str, user_id: str, ttl_s: int, now: float | None = None) -> TurnCredential:
    """Credentials for ``user_id`` valid for ``ttl_s`` seconds from ``now``.

    coturn reads the expiry from the text before the first ':', so a ':' inside the user id is
    replaced by '_' to keep the username unambiguous.
    """
    if not secret:
        raise ValueError("the TURN shared secret is empty")
    if ttl_s <= 0:
        raise ValueError("the credential lifetime must be positive")
    issued = time.time() if now is None else now
    expires_at = int(issued) + ttl_s
    username = f"{expires_at}:{user_id.replace(':', '_')}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires_at)


def turn_uris(configured: Sequence[str]) -> list[IceUri]:
    """The TURN URIs to offer: each plain ``turn:`` URI over both UDP and TCP.

    UDP is listed first (cheaper, preferred by browsers); the TCP twin lets clients on networks
    that block UDP still reach the TURN server. ``turns:`` URIs are kept as they are (TLS runs over
    TCP only).
    """
    found: list[IceUri] = []
    for text in configured:
        uri = parse_uri(text)
        if not uri.is_turn:
            raise UriError(f"{text!r}: turn.uris takes turn: or turns: URIs")
        if uri.secure:
            found.append(uri.with_transport("tcp") if uri.transport else uri)
        else:
            found.extend((uri.with_transport("udp"), uri.with_transport("tcp")))
    udp = [u for u in found if not u.secure and u.transport == "udp"]
    rest = [u for u in found if u not in udp]
    return list(dict.fromkeys(udp + rest))


def stun_uris(turn: IceSettings) -> list[IceUri]:
    """The configured STUN URIs, or one ``stun:`` per TURN host and port (coturn answers both)."""
    if turn.stun_uris:
        return list(dict.fromkeys(parse_uri(text) for text in turn.stun_uris))
    derived = (IceUri("stun", uri.host, uri.port) for uri in turn_uris(turn.uris) if not uri.secure)
    return list(dict.fromkeys(derived))


def ice_servers(turn: IceSettings, user_id: str, now: float | None = None) -> list[dict[str, Any]]:
    """``RTCIceServer`` dictionaries for a signed-in user, ready for ``RTCPeerConnection``.

    One entry holds every STUN URI; one entry holds every TURN URI with freshly minted
    credentials. Without a shared secret the TURN URIs are left out (they could not work).
    """
    servers: list[dict[str, Any]] = []
    stun = stun_uris(turn)
    if stun:
        servers.append({"urls": [str(uri) for uri in stun]})
    relays = turn_uris(turn.uris)
    if relays and not turn.shared_secret:
        log.warning("turn_uris_without_secret", hint="set turn.shared_secret")
    elif relays:
        cred = mint(turn.shared_secret.reveal(), user_id, turn.ttl_s, now)
        servers.append(
            {
                "urls": [str(uri) for uri in relays],
                "username": cred.username,
                "credential": cred.credential,
            }
        )
    return servers
