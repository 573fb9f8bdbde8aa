"""The STUN message codec used by the self-test."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct

import pytest

from turn import stun


def test_binding_request_header() -> None:
    message = stun.Message(stun.BINDING, stun.REQUEST, transaction_id=b"\x01" * 12)
    data = message.encode()
    kind, length, cookie = struct.unpack_from("!HHI", data)
    assert (kind, cookie) == (0x0001, 0x2112A442)
    assert length == len(data) - 20 == 8  # only the FINGERPRINT
    assert data[8:20] == b"\x01" * 12


def test_fingerprint_is_crc32_xor_stun() -> None:
    data = stun.Message(stun.BINDING, stun.REQUEST).encode()
    expected = (binascii.crc32(data[:-8]) ^ 0x5354554E) & 0xFFFFFFFF
    assert struct.unpack("!I", data[-4:])[0] == expected


def test_message_integrity_covers_the_header_with_adjusted_length() -> None:
    message = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.USERNAME, b"user")
    key = stun.long_term_key("user", "realm", "pass")
    assert key == hashlib.md5(b"user:realm:pass", usedforsecurity=False).digest()
    data = message.encode(key)
    integrity_at = len(data) - 8 - 24
    covered = bytearray(data[:integrity_at])
    covered[2:4] = struct.pack("!H", integrity_at - 20 + 24)
    expected = hmac.new(key, bytes(covered), hashlib.sha1).digest()
    assert data[integrity_at + 4 : integrity_at + 24] == expected


def test_success_response_round_trip_with_padding_and_types() -> None:
    tid = b"\xaa" * 12
    message = stun.Message(stun.ALLOCATE, stun.SUCCESS, tid).add(stun.REALM, b"abcde")
    decoded = stun.decode(message.encode())
    assert (decoded.method, decoded.klass, decoded.transaction_id) == (
        stun.ALLOCATE,
        stun.SUCCESS,
        tid,
    )
    assert decoded.get(stun.REALM) == b"abcde"
    assert struct.unpack_from("!H", message.encode())[0] == 0x0103


def _xor_address_value(ip: bytes, port: int, tid: bytes) -> bytes:
    mask = struct.pack("!I", stun.MAGIC_COOKIE) + tid
    family = 1 if len(ip) == 4 else 2
    xored = bytes(a ^ b for a, b in zip(ip, mask, strict=False))
    return struct.pack("!BBH", 0, family, port ^ 0x2112) + xored


@pytest.mark.parametrize(
    ("ip", "text"),
    [
        (bytes([192, 0, 2, 1]), "192.0.2.1"),
        (bytes.fromhex("20010db8000000000000000000000001"), "2001:db8::1"),
    ],
)
def test_xor_addresses_are_decoded(ip: bytes, text: str) -> None:
    tid = bytes(range(12))
    message = stun.Message(stun.BINDING, stun.SUCCESS, tid)
    message.add(stun.XOR_MAPPED_ADDRESS, _xor_address_value(ip, 32853, tid))
    assert stun.decode(message.encode()).xor_address(stun.XOR_MAPPED_ADDRESS) == (text, 32853)


def test_error_code_is_read() -> None:
    message = stun.Message(stun.ALLOCATE, stun.ERROR)
    message.add(stun.ERROR_CODE, struct.pack("!HBB", 0, 4, 1) + b"Unauthorized")
    error = stun.decode(message.encode()).error()
    assert error is not None
    assert (error.code, error.reason) == (401, "Unauthorized")
    assert stun.Message(stun.BINDING, stun.SUCCESS).error() is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 10,
        b"\x80\x01\x00\x00" + b"\x21\x12\xa4\x42" + b"\x00" * 12,
        b"\x00\x01\x00\x00" + b"\x00\x00\x00\x00" + b"\x00" * 12,
        b"\x00\x01\x00\x08" + b"\x21\x12\xa4\x42" + b"\x00" * 12,
        b"\x00\x01\x00\x08" + b"\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x06\x00\x09abcd",
    ],
)
def test_garbage_is_not_a_message(data: bytes) -> None:
    with pytest.raises(stun.StunProtocolError):
        stun.decode(data)
