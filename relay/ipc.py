"""The frames a relay worker process and the web process exchange.

One stream socket per worker. Every frame is a 4-byte big-endian length and a msgpack body
(msgspec, tagged structs). The parent sends :class:`Init` once, then :class:`Call` frames;
the worker answers each call with :class:`Result` or :class:`Failure` (same ``id``) and, on
its own, sends :class:`Ready` once, :class:`Report` every second and :class:`RoomClosed` when a
session's last participant is gone.

A call is generic — "run this manager method for this session" — so a new relay command
needs only its name in :data:`relay.worker.WORKER_METHODS` and a one-line method on the pool.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgspec

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""A frame is an SDP offer or answer (at most 64 KB) or a report; anything larger is a bug."""

_LENGTH = struct.Struct(">I")


class IceServer(msgspec.Struct, frozen=True):
    """An ``aiortc.RTCIceServer`` on the wire (the parent mints fresh TURN credentials)."""

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


class Init(msgspec.Struct, tag=True):
    """First frame to a worker: its settings (``RelaySettings`` as plain values)."""

    index: int
    relay_settings: dict[str, Any]
    log_level: str = "INFO"
    log_json: bool | None = None
    report_interval_s: float = 1.0
    peer_timeout_s: float = 30.0


class Call(msgspec.Struct, tag=True):
    """Run ``manager.<method>(session_id, *args)`` in the worker. ``ice_servers`` is what a
    room created by this call uses."""

    id: int
    method: str
    session_id: str
    args: list[Any] = []
    ice_servers: list[IceServer] = []


class Ready(msgspec.Struct, tag=True):
    """The worker is up; ``unavailable_reason`` is its self-check's verdict."""

    pid: int
    unavailable_reason: str | None
    event_loop: str


class Result(msgspec.Struct, tag=True):
    id: int
    value: Any = None


class Failure(msgspec.Struct, tag=True):
    """A call raised: ``kind`` names a :mod:`relay.errors` class (or ``"error"``)."""

    id: int
    kind: str
    message: str


class Report(msgspec.Struct, tag=True):
    """The worker's figures: its manager's ``stats()``, its own CPU and memory, and who is
    connected in which session."""

    stats: dict[str, Any]
    cpu_seconds: float
    rss_bytes: int
    rooms: dict[str, list[str]]


class RoomClosed(msgspec.Struct, tag=True):
    session_id: str


ToWorker = Init | Call
FromWorker = Ready | Result | Failure | Report | RoomClosed

_encoder = msgspec.msgpack.Encoder()
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_from_worker = msgspec.msgpack.Decoder(FromWorker)


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol."""


def encode(message: ToWorker | FromWorker) -> bytes:
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


async def _read_body(reader: asyncio.StreamReader) -> bytes:
    """One frame's body; raises ``asyncio.IncompleteReadError`` at the end of the stream."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {length} bytes is larger than {MAX_FRAME_BYTES}")
    return await reader.readexactly(length)


async def read_to_worker(reader: asyncio.StreamReader) -> ToWorker:
    try:
        return _to_worker.decode(await _read_body(reader))
    except msgspec.DecodeError as exc:
        raise FrameError(str(exc)) from exc


async def read_from_worker(reader: asyncio.StreamReader) -> FromWorker:
    try:
        return _from_worker.decode(await _read_body(reader))
    except msgspec.DecodeError as exc:
        raise FrameError(str(exc)) from exc
