"""A minimal STUN/TURN client (RFC 8489, RFC 8656) for the connection self-test.

Just enough to send a Binding request and a TURN Allocate with long-term credentials over UDP,
TCP or TLS, and to read the answer: no channels, no permissions, no data relaying.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import os
import ssl
import struct
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
HEADER = struct.Struct("!HHI12s")

BINDING = 0x001
ALLOCATE = 0x003
REFRESH = 0x004

REQUEST = 0x000
SUCCESS = 0x100
ERROR = 0x110

MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028

UDP_PROTOCOL = 17
FINGERPRINT_XOR = 0x5354554E


class StunProtocolError(ValueError):
    """Bytes that are not a STUN message."""


class StunTimeout(TimeoutError):
    """No answer before the deadline."""


class StunErrorResponse(Exception):
    """The server answered with an error response."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason


@dataclass
class Message:
    method: int
    klass: int
    transaction_id: bytes = field(default_factory=lambda: os.urandom(12))
    attributes: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, kind: int, value: bytes) -> Message:
        self.attributes.append((kind, value))
        return self

    def get(self, kind: int) -> bytes | None:
        return next((value for k, value in self.attributes if k == kind), None)

    def encode(self, integrity_key: bytes | None = None) -> bytes:
        """Wire bytes, with MESSAGE-INTEGRITY when a key is given, and always a FINGERPRINT."""
        body = b"".join(_attribute(kind, value) for kind, value in self.attributes)
        if integrity_key is not None:
            head = self._header(len(body) + 24)
            mac = hmac.new(integrity_key, head + body, hashlib.sha1).digest()
            body += _attribute(MESSAGE_INTEGRITY, mac)
        head = self._header(len(body) + 8)
        crc = (binascii.crc32(head + body) ^ FINGERPRINT_XOR) & 0xFFFFFFFF
        return head + body + _attribute(FINGERPRINT, struct.pack("!I", crc))

    def _header(self, length: int) -> bytes:
        kind = _message_type(self.method, self.klass)
        return HEADER.pack(kind, length, MAGIC_COOKIE, self.transaction_id)

    def error(self) -> StunErrorResponse | None:
        if self.klass != ERROR:
            return None
        raw = self.get(ERROR_CODE) or b"\0\0\0\0"
        if len(raw) < 4:
            return StunErrorResponse(0, "malformed ERROR-CODE")
        code = (raw[2] & 0x7) * 100 + raw[3]
        return StunErrorResponse(code, raw[4:].decode("utf-8", "replace"))

    def xor_address(self, kind: int) -> tuple[str, int] | None:
        raw = self.get(kind)
        if raw is None or len(raw) < 8:
            return None
        family = raw[1]
        port = struct.unpack("!H", raw[2:4])[0] ^ (MAGIC_COOKIE >> 16)
        mask = struct.pack("!I", MAGIC_COOKIE) + self.transaction_id
        if family == 1:
            packed = bytes(a ^ b for a, b in zip(raw[4:8], mask[:4], strict=True))
        elif family == 2 and len(raw) >= 20:
            packed = bytes(a ^ b for a, b in zip(raw[4:20], mask, strict=True))
        else:
            return None
        return str(ipaddress.ip_address(packed)), port


def _message_type(method: int, klass: int) -> int:
    return (method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2) | klass


def _attribute(kind: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def decode(data: bytes) -> Message:
    if len(data) < HEADER.size:
        raise StunProtocolError("shorter than a STUN header")
    kind, length, cookie, transaction_id = HEADER.unpack_from(data)
    if kind & 0xC000 or cookie != MAGIC_COOKIE:
        raise StunProtocolError("not a STUN message (bad type bits or magic cookie)")
    if len(data) < HEADER.size + length:
        raise StunProtocolError("truncated STUN message")
    method = (kind & 0xF) | ((kind >> 1) & 0x70) | ((kind >> 2) & 0xF80)
    message = Message(method, kind & 0x110, transaction_id)
    offset, end = HEADER.size, HEADER.size + length
    while offset + 4 <= end:
        attr, size = struct.unpack_from("!HH", data, offset)
        value = data[offset + 4 : offset + 4 + size]
        if len(value) != size:
            raise StunProtocolError("truncated STUN attribute")
        message.attributes.append((attr, value))
        offset += 4 + size + (-size % 4)
    return message


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """RFC 8489 long-term credential key: MD5(username:realm:password)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).digest()


class Channel:
    """One client socket to one STUN server; requests are matched by transaction id."""

    def __init__(self, transport: str, host: str, port: int, timeout: float) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.timeout = timeout
        self._udp: asyncio.DatagramTransport | None = None
        self._queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Channel:
        if self.transport == "udp":
            loop = asyncio.get_running_loop()
            queue = self._queue

            class _Receiver(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
                    queue.put_nowait(data)

                def error_received(self, exc: Exception) -> None:
                    # ICMP port unreachable arrives here as ConnectionRefusedError
                    if isinstance(exc, OSError):
                        queue.put_nowait(exc)

            self._udp, _ = await asyncio.wait_for(
                loop.create_datagram_endpoint(_Receiver, remote_addr=(self.host, self.port)),
                self.timeout,
            )
        else:
            context = ssl.create_default_context() if self.transport == "tls" else None
            hostname = self.host if context else None
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host, self.port, ssl=context, server_hostname=hostname
                ),
                self.timeout,
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await self._writer.wait_closed()

    async def request(self, message: Message, integrity_key: bytes | None = None) -> Message:
        data = message.encode(integrity_key)
        try:
            return await asyncio.wait_for(self._exchange(message, data), self.timeout)
        except TimeoutError:
            raise StunTimeout(f"no answer within {self.timeout:g} s") from None

    async def _exchange(self, message: Message, data: bytes) -> Message:
        if self._udp is not None:
            return await self._exchange_udp(message, data)
        assert self._reader is not None and self._writer is not None
        self._writer.write(data)
        await self._writer.drain()
        while True:
            head = await self._reader.readexactly(HEADER.size)
            length = struct.unpack_from("!H", head, 2)[0]
            answer = decode(head + await self._reader.readexactly(length))
            if answer.transaction_id == message.transaction_id:
                return answer

    async def _exchange_udp(self, message: Message, data: bytes) -> Message:
        assert self._udp is not None
        rto = 0.25
        while True:  # retransmit with doubling intervals until request() times out
            self._udp.sendto(data)
            try:
                while True:
                    raw = await asyncio.wait_for(self._queue.get(), rto)
                    if isinstance(raw, OSError):
                        raise raw
                    with contextlib.suppress(StunProtocolError):
                        answer = decode(raw)
                        if answer.transaction_id == message.transaction_id:
                            return answer
            except TimeoutError:
                rto = min(rto * 2, 2.0)


@dataclass(frozen=True)
class Allocation:
    relayed: tuple[str, int] | None
    mapped: tuple[str, int] | None
    lifetime_s: int | None


async def binding(channel: Channel) -> tuple[str, int] | None:
    """Send a Binding request; return the address the server saw us at."""
    answer = await channel.request(Message(BINDING, REQUEST))
    error = answer.error()
    if error is not None:
        raise error
    return answer.xor_address(XOR_MAPPED_ADDRESS)


async def allocate(channel: Channel, username: str, password: str) -> Allocation:
    """TURN Allocate for a UDP relay with long-term credentials, then release it at once."""

    def allocate_request() -> Message:
        return Message(ALLOCATE, REQUEST).add(
            REQUESTED_TRANSPORT, struct.pack("!B3x", UDP_PROTOCOL)
        )

    answer = await channel.request(allocate_request())
    key: bytes | None = None
    realm = nonce = b""
    for _attempt in range(3):
        error = answer.error()
        if error is None:
            break
        if error.code not in (401, 438) or answer.get(NONCE) is None:
            raise error
        if error.code == 401 and key is not None:
            raise error  # the server checked our credentials and refused them
        realm = answer.get(REALM) or realm
        nonce = answer.get(NONCE) or nonce
        key = long_term_key(username, realm.decode("utf-8", "replace"), password)
        request = allocate_request()
        request.add(USERNAME, username.encode()).add(REALM, realm).add(NONCE, nonce)
        answer = await channel.request(request, key)
    else:
        raise answer.error() or StunErrorResponse(0, "no success after retries")
    lifetime_raw = answer.get(LIFETIME)
    result = Allocation(
        relayed=answer.xor_address(XOR_RELAYED_ADDRESS),
        mapped=answer.xor_address(XOR_MAPPED_ADDRESS),
        lifetime_s=struct.unpack("!I", lifetime_raw)[0] if lifetime_raw else None,
    )
    if key is not None:
        release = Message(REFRESH, REQUEST).add(LIFETIME, struct.pack("!I", 0))
        release.add(USERNAME, username.encode()).add(REALM, realm).add(NONCE, nonce)
        with contextlib.suppress(StunTimeout, StunErrorResponse, OSError):
            await channel.request(release, key)
    return result
