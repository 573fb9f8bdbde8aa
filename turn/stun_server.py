"""A built-in STUN responder (RFC 8489 Binding only) so browsers learn their public address
without coturn.

Without any STUN server a browser gathers host candidates only, and two people behind ordinary
(cone) NATs can never connect directly. Answering Binding requests is all it takes: the answer
carries XOR-MAPPED-ADDRESS (the address the request came from) and a FINGERPRINT. Anything else
that arrives on the port is dropped without an answer, so the port cannot be used to reflect
traffic at a third party with amplification (the answer is about as long as the request).
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from dataclasses import dataclass
from typing import cast

import structlog

from turn import stun

log = structlog.get_logger(__name__)

MAX_REQUEST_BYTES = 548
"""Binding requests from browsers are about 20-100 bytes; anything longer is not one."""

XOR_PORT = stun.MAGIC_COOKIE >> 16


@dataclass
class StunCounters:
    answered: int = 0
    dropped: int = 0


def binding_answer(request: bytes, source: tuple[str, int]) -> bytes | None:
    """The success answer to a Binding request from ``source``, or None for anything else."""
    if len(request) > MAX_REQUEST_BYTES:
        return None
    try:
        message = stun.decode(request)
    except stun.StunProtocolError:
        return None
    if message.method != stun.BINDING or message.klass != stun.REQUEST:
        return None
    answer = stun.Message(stun.BINDING, stun.SUCCESS, message.transaction_id)
    answer.add(stun.XOR_MAPPED_ADDRESS, xor_address(source, message.transaction_id))
    return answer.encode()


def xor_address(source: tuple[str, int], transaction_id: bytes) -> bytes:
    """The XOR-MAPPED-ADDRESS value for ``source`` (IPv4 or IPv6)."""
    host, port = source[0], source[1]
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    mask = struct.pack("!I", stun.MAGIC_COOKIE) + transaction_id
    packed = ip.packed
    masked = bytes(a ^ b for a, b in zip(packed, mask[: len(packed)], strict=True))
    family = 1 if len(packed) == 4 else 2
    return struct.pack("!BBH", 0, family, port ^ XOR_PORT) + masked


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, counters: StunCounters) -> None:
        self.counters = counters
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        host = addr[0]
        if not isinstance(host, str) or self.transport is None:
            return
        try:
            answer = binding_answer(data, (host, addr[1]))
        except ValueError:
            answer = None
        if answer is None:
            self.counters.dropped += 1
            return
        self.counters.answered += 1
        self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("stun.socket_error", error=type(exc).__name__)


class StunResponder:
    """One UDP socket answering Binding requests; ``start`` binds it, ``close`` releases it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.counters = StunCounters()
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens once started (the real port when ``port`` was 0)."""
        if self._transport is None:
            return None
        sockname = self._transport.get_extra_info("sockname")
        return str(sockname[0]), int(sockname[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Responder(self.counters), local_addr=(self.host, self.port)
        )
        self._transport = transport
        log.info("stun.listening", address=self.address)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
