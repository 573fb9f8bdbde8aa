"""relay.srtp: libsrtp called directly gives what pylibsrtp's own wrapper gives."""

from __future__ import annotations

import pylibsrtp
import pytest

from relay.srtp import BUFFER_BYTES, PacketCipher

KEY = bytes(range(30))  # AES-128 key and salt for AES_CM_128_HMAC_SHA1_80


def _session(direction: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=KEY, ssrc_type=direction)
    return pylibsrtp.Session(policy=policy)


def _rtp(sequence: int, payload: bytes = b"\x10\x00" + b"x" * 1000) -> bytes:
    return bytes([0x80, 96]) + sequence.to_bytes(2, "big") + bytes(4) + bytes(4) + payload


@pytest.mark.parametrize("direct_side", ["protect", "unprotect"])
def test_direct_calls_match_pylibsrtp(direct_side: str) -> None:
    sender = _session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    receiver = _session(pylibsrtp.Policy.SSRC_ANY_INBOUND)
    reference = _session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    for sequence in range(1, 40):
        plain = _rtp(sequence)
        if direct_side == "protect":
            protected = PacketCipher(sender).protect(plain)
            assert protected == reference.protect(plain)
            assert protected is not None and receiver.unprotect(protected) == plain
        else:
            protected = sender.protect(plain)
            assert PacketCipher(receiver).unprotect(protected) == plain


def test_refused_packets_are_none_not_exceptions() -> None:
    sender = PacketCipher(_session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    receiver = PacketCipher(_session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    protected = sender.protect(_rtp(7))
    assert protected is not None
    assert receiver.unprotect(protected) == _rtp(7)
    assert receiver.unprotect(protected) is None  # a replay
    tampered = sender.protect(_rtp(8))
    assert tampered is not None
    assert receiver.unprotect(tampered[:-1] + bytes([tampered[-1] ^ 1])) is None  # bad tag
    assert sender.protect(_rtp(9, b"x" * BUFFER_BYTES)) is None  # no room for the tag
    assert receiver.unprotect(b"\x80" * (BUFFER_BYTES + 1)) is None
