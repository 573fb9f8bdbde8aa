"""The media socket's wire format: encoded chunks in binary frames, control in text frames.

Binary frame = a 14-byte header and the encoded chunk exactly as WebCodecs produced it::

    kind u8 (1 video key frame, 2 video delta frame, 3 audio) | reserved u8 |
    sequence u32 | capture timestamp u64 (microseconds, the sender's clock) | chunk bytes

The server checks the header, the size per kind and the rate, then forwards the frame
unchanged to the other participant's socket. Text frames are small JSON objects with a
``type``: ``config`` (the sender's codecs, forwarded so the receiver can configure its
decoders), ``keyframe`` (the receiver asks for a key frame; forwarded), and from the server
``peer`` (the other participant's socket came or went) and ``slow-down`` (the other side is
falling behind: send less).

Close codes (4000-4999 are the application's): 4400 a malformed frame, 4401 not signed in,
4403 not a participant or the room is closed, 4404 no such session, 4409 replaced by a newer
socket of the same participant, 4413 a chunk too large, 4429 too many frames.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import msgspec

HEADER = struct.Struct("!BxIQ")

CLOSE_MALFORMED = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_REPLACED = 4409
CLOSE_TOO_LARGE = 4413
CLOSE_TOO_FAST = 4429


class Kind(IntEnum):
    VIDEO_KEY = 1
    VIDEO_DELTA = 2
    AUDIO = 3

    @property
    def is_video(self) -> bool:
        return self is not Kind.AUDIO


MAX_CHUNK_BYTES = {Kind.VIDEO_KEY: 256 * 1024, Kind.VIDEO_DELTA: 128 * 1024, Kind.AUDIO: 4096}
"""Largest chunk per kind: a 640x480 VP8 key frame is 20-80 KB; an Opus packet of 20 ms
under 1 KB."""
MAX_FRAME_BYTES = HEADER.size + max(MAX_CHUNK_BYTES.values())
MAX_TEXT_BYTES = 2048


class FrameError(ValueError):
    """A frame that breaks the protocol; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Chunk:
    kind: Kind
    sequence: int
    timestamp_us: int
    size: int


def parse_chunk(frame: bytes) -> Chunk:
    """The header of a binary frame, checked; raises :class:`FrameError`."""
    if len(frame) <= HEADER.size:
        raise FrameError(CLOSE_MALFORMED, "chunk shorter than its header")
    raw_kind, sequence, timestamp_us = HEADER.unpack_from(frame)
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise FrameError(CLOSE_MALFORMED, f"unknown chunk kind {raw_kind}") from None
    size = len(frame) - HEADER.size
    if size > MAX_CHUNK_BYTES[kind]:
        raise FrameError(
            CLOSE_TOO_LARGE, f"{kind.name.lower()} chunk over {MAX_CHUNK_BYTES[kind]} bytes"
        )
    return Chunk(kind, sequence, timestamp_us, size)


def encode_chunk(kind: Kind, sequence: int, timestamp_us: int, data: bytes) -> bytes:
    return HEADER.pack(kind, sequence & 0xFFFFFFFF, timestamp_us) + data


AUDIO_RATES = frozenset((8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000))
"""Microphone sample rates a page may announce (the capture rate of its microphone)."""


class VideoConfig(msgspec.Struct, forbid_unknown_fields=True):
    codec: Literal["vp8", "vp09.00.10.08", "avc1.42001f", "avc1.42e01f"]
    width: int
    height: int


class AudioConfig(msgspec.Struct, forbid_unknown_fields=True):
    codec: Literal["opus"]
    sampleRate: int
    numberOfChannels: int


class ConfigMessage(msgspec.Struct, tag="config", tag_field="type", forbid_unknown_fields=True):
    video: VideoConfig | None = None
    audio: AudioConfig | None = None

    def check(self) -> None:
        if self.video and not (16 <= self.video.width <= 1920 and 16 <= self.video.height <= 1080):
            raise FrameError(CLOSE_MALFORMED, "video size out of range")
        if self.audio and (
            self.audio.sampleRate not in AUDIO_RATES or self.audio.numberOfChannels not in (1, 2)
        ):
            raise FrameError(CLOSE_MALFORMED, "audio format out of range")


class KeyframeRequest(msgspec.Struct, tag="keyframe", tag_field="type", forbid_unknown_fields=True):
    pass


Control = ConfigMessage | KeyframeRequest
_CONTROL = msgspec.json.Decoder(Control)


def parse_control(text: str) -> Control:
    """A text frame from a page, checked; raises :class:`FrameError`."""
    if len(text) > MAX_TEXT_BYTES:
        raise FrameError(CLOSE_TOO_LARGE, f"control message over {MAX_TEXT_BYTES} bytes")
    try:
        message = _CONTROL.decode(text)
    except msgspec.ValidationError as exc:
        raise FrameError(CLOSE_MALFORMED, f"bad control message: {exc}") from None
    except msgspec.DecodeError:
        raise FrameError(CLOSE_MALFORMED, "control message is not JSON") from None
    if isinstance(message, ConfigMessage):
        message.check()
    return message
