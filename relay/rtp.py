"""RTP as bytes: header layout, header extensions, clocks, and keyframe detection.

Pure functions and small value types, no aiortc objects: the fast path reads decrypted
packets with them, and the frame path asks :func:`is_keyframe` of depacketised frames.
"""

from __future__ import annotations

import struct
import time

HEADER = struct.Struct("!BBHII")
"""V/P/X/CC, M/PT, sequence number, timestamp, SSRC."""
_EXTENSION_HEADER = struct.Struct("!HH")
ONE_BYTE_PROFILE = 0xBEDE

NTP_UNIX_OFFSET = 2_208_988_800
"""Seconds from 1900 (NTP's epoch) to 1970."""


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


def ntp_now() -> int:
    """The current time as a 64-bit NTP timestamp (aiortc's clock goes through datetime)."""
    return int((time.time() + NTP_UNIX_OFFSET) * 4_294_967_296)


def starts_keyframe(mime_type: str, payload: bytes) -> bool:
    """Whether this RTP payload is the first packet of a frame decodable on its own."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return _vp8_starts_keyframe(payload)
    if mime == "video/h264":
        return _h264_starts_keyframe(payload)
    return not mime.startswith("video/")


def _vp8_starts_keyframe(payload: bytes) -> bool:
    """RFC 7741: S=1 and partition 0 start the frame; the VP8 header's P bit is 0 on a key frame."""
    size = len(payload)
    if size < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:
        return False
    position = 1
    if first & 0x80:  # X: extension byte follows
        extension = payload[1]
        position = 2
        if extension & 0x80:  # I: picture id, 7 or 15 bits
            if position >= size:
                return False
            position += 2 if payload[position] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            position += 1
        if extension & 0x30:  # T or K: TID/KEYIDX
            position += 1
    return position < size and not payload[position] & 0x01


def _h264_starts_keyframe(payload: bytes) -> bool:
    """RFC 6184: an IDR slice (5) or SPS (7), alone, in a STAP-A, or starting an FU-A."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A: 16-bit size, then the NAL unit
        position = 1
        while position + 2 < len(payload):
            length = int.from_bytes(payload[position : position + 2], "big")
            if payload[position + 2] & 0x1F in (5, 7):
                return True
            position += 2 + length
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A: start bit and the fragmented type
        header = payload[1]
        return bool(header & 0x80) and header & 0x1F in (5, 7)
    return False


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether a depayloaded frame can be decoded on its own.

    VP8: bit 0 of the frame tag is 0 on key frames (RFC 6386 9.1). H.264 (Annex B as
    aiortc's depayloader emits it): the frame holds an IDR slice (5) or an SPS (7).
    Audio frames are always independent.
    """
    mime = mime_type.lower()
    if mime == "video/vp8":
        return bool(data) and not data[0] & 0x01
    if mime == "video/h264":
        start = data.find(b"\x00\x00\x01")
        while start != -1 and start + 3 < len(data):
            if data[start + 3] & 0x1F in (5, 7):
                return True
            start = data.find(b"\x00\x00\x01", start + 3)
        return False
    return not mime.startswith("video/")
