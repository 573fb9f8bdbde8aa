"""The relay's hot path: SRTP media handled in the datagram callback.

aiortc receives every datagram through an asyncio queue into a coroutine, decrypts it, parses
it into objects and routes it; a forwarded packet then goes back through objects and another
coroutine before it is encrypted and sent. For a relay that is most of its CPU. So each relay
connection's ICE ``Connection.data_received`` (aioice, per instance) is wrapped: an SRTP media
packet whose SSRC belongs to a publication in packet mode is decrypted, rewritten as bytes
for each subscriber (:meth:`relay.rtp.PacketOutlet.forward_bytes`), encrypted and sent, all
within the callback. Everything else (DTLS, RTCP, retransmissions, unknown SSRCs, and media
while a subscriber needs decoded frames) takes aiortc's normal path, which also teaches the
routes: a publication registers its media SSRC the first time aiortc hands it a packet.
"""

from __future__ import annotations

import struct
from typing import Protocol

import pylibsrtp
import structlog
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensionsMap, RtpPacket

from relay import compat

log = structlog.get_logger(__name__)

HEADER = struct.Struct("!BBHII")
"""V/P/X/CC, M/PT, sequence number, timestamp, SSRC."""
_SEQ_TS = struct.Struct("!HI")
_EXTENSION_HEADER = struct.Struct("!HH")
ONE_BYTE_PROFILE = 0xBEDE
NACK_WINDOW = RTP_HISTORY_SIZE
"""Packets further back than this are not asked for again (the sender no longer has them)."""


class FastRoute(Protocol):
    """What the fast path needs of a publication."""

    def accepts(self, payload_type: int) -> bool: ...

    def on_plain_rtp(self, plain: bytes) -> None: ...


class RtpHeader:
    """The fields aiortc's reception statistics and NACK generator read from a packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int) -> None:
        self.sequence_number = sequence_number
        self.timestamp = timestamp


class ForwardedPacket:
    """A sent packet kept in a sender's history, parsed only if the subscriber NACKs it."""

    __slots__ = ("_data", "_extensions", "_parsed", "sequence_number")

    def __init__(self, sequence_number: int, data: bytes, extensions: HeaderExtensionsMap) -> None:
        self.sequence_number = sequence_number
        self._data = data
        self._extensions = extensions
        self._parsed: RtpPacket | None = None

    def _packet(self) -> RtpPacket:
        if self._parsed is None:
            self._parsed = RtpPacket.parse(self._data, self._extensions)
        return self._parsed

    def serialize(self, extensions_map: HeaderExtensionsMap | None = None) -> bytes:
        return self._data

    def __getattr__(self, name: str) -> object:
        return getattr(self._packet(), name)


def rtp_layout(plain: bytes) -> tuple[int, int, bytes]:
    """Where the payload starts, the extension profile and the extension block's bytes.

    Raises ValueError for a packet too short for the header it announces.
    """
    size = len(plain)
    if size < 12:
        raise ValueError("RTP packet shorter than its fixed header")
    first = plain[0]
    position = 12 + 4 * (first & 0x0F)
    if not first & 0x10:
        if position > size:
            raise ValueError("RTP packet shorter than its CSRC list")
        return position, 0, b""
    if position + 4 > size:
        raise ValueError("RTP packet shorter than its extension header")
    profile, words = _EXTENSION_HEADER.unpack_from(plain, position)
    position += 4
    end = position + 4 * words
    if end > size:
        raise ValueError("RTP packet shorter than its header extensions")
    return end, profile, plain[position:end]


def one_byte_extension(block: bytes, wanted: int) -> bytes | None:
    """The value of extension ``wanted`` in a one-byte-header block (RFC 8285)."""
    position = 0
    size = len(block)
    while position < size:
        element = block[position]
        if element == 0:
            position += 1
            continue
        identifier = element >> 4
        if identifier == 15:
            return None
        length = (element & 0x0F) + 1
        if identifier == wanted:
            return block[position + 1 : position + 1 + length]
        position += 1 + length
    return None


class LossTracker:
    """The sequence numbers missing from one stream, for NACKs.

    Does what aiortc's ``NackGenerator`` does, but walks its missing set only when there is
    one: most packets are one more than the last.
    """

    __slots__ = ("highest", "missing")

    def __init__(self) -> None:
        self.highest: int | None = None
        self.missing: set[int] = set()

    def add(self, sequence: int) -> bool:
        """Record a packet; True when it revealed a new gap (time to send a NACK)."""
        highest = self.highest
        if highest is None:
            self.highest = sequence
            return False
        ahead = (sequence - highest) & 0xFFFF
        if ahead == 0:
            return False
        if ahead >= 0x8000:  # older than the highest: a retransmission or reordering
            self.missing.discard(sequence)
            return False
        self.highest = sequence
        missed = ahead > 1
        if missed:
            first = highest + 1 if ahead <= NACK_WINDOW else highest + ahead - NACK_WINDOW
            self.missing.update(value & 0xFFFF for value in range(first, highest + ahead))
        if self.missing:
            self.missing = {
                value for value in self.missing if (sequence - value) & 0xFFFF <= NACK_WINDOW
            }
        return missed


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
                    try:
                        plain = srtp.unprotect(data)
                    except pylibsrtp.Error:
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
