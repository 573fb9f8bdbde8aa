"""The relay's hot path: SRTP media handled in aioice's datagram callback.

aiortc receives every datagram through an asyncio queue into a coroutine, decrypts it, parses
it into objects and routes it; a forwarded packet then goes back through objects and another
coroutine before it is encrypted and sent. For a relay that is most of its CPU. So each relay
connection's ICE ``Connection.data_received`` (aioice, per instance, through
:mod:`relay.compat`) is wrapped: an SRTP media packet whose SSRC belongs to a publication in
packet mode is decrypted and handed to that publication (:class:`FastRoute`), which rewrites
it for each subscriber, encrypts and sends it, all within the callback. Everything else
(DTLS, RTCP, retransmissions, unknown SSRCs, and media while a subscriber needs decoded
frames) takes aiortc's normal path, which also teaches the routes: a publication registers
its media SSRC the first time aiortc hands it a packet.
"""

from __future__ import annotations

from typing import Protocol

import structlog
from aiortc.rtcdtlstransport import RTCDtlsTransport

from relay import compat
from relay.srtp import PacketCipher

log = structlog.get_logger(__name__)


class FastRoute(Protocol):
    """What the fast path needs of a publication."""

    def accepts(self, payload_type: int) -> bool: ...

    def on_plain_rtp(self, plain: bytes) -> None: ...


def install(dtls_transport: RTCDtlsTransport, routes: dict[int, FastRoute]) -> bool:
    """Handle ``dtls_transport``'s SRTP media for the SSRCs in ``routes`` in the callback.

    Returns False (and changes nothing) when the installed aioice/aiortc lack the pieces.
    """
    connection = compat.ice_connection(dtls_transport)
    if connection is None:
        return False
    if compat.is_hooked(connection):
        return True
    read_rx_srtp = compat.read_rx_srtp
    failures = [0]
    patched = [0]
    cipher: list[PacketCipher | None] = [None]  # bound to the inbound session once

    def data_received(data: bytes, component: int) -> None:
        if patched[0] != len(protocols):  # gathering or TURN added sockets
            patched[0] = len(protocols)
            compat.bypass_stun_parsing(protocols, data_received)
        # RFC 7983: 128-191 is RTP or RTCP; RTCP packet types are 192-208 in byte 1.
        if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 209:
            srtp = read_rx_srtp(dtls_transport)
            if srtp is not None:
                route = routes.get(int.from_bytes(data[8:12], "big"))
                if route is not None and route.accepts(data[1] & 0x7F):
                    bound = cipher[0]
                    if bound is None or bound.session is not srtp:
                        bound = cipher[0] = PacketCipher(srtp)
                    plain = bound.unprotect(data)
                    if plain is None:  # a replay or a bad tag, as aiortc would drop it
                        return
                    try:
                        route.on_plain_rtp(plain)
                    except Exception:  # one bad packet must not break the connection
                        failures[0] += 1
                        if failures[0] == 1:  # once per connection: no log flood
                            log.exception("relay.fast_path_failed")
                    return
        original(data, component)

    hook = compat.install_hook(connection, data_received)
    original = hook.original
    protocols = hook.protocols
    return True
