"""The frames a relay worker process and the web process exchange.

One stream socket per worker. Every frame is a 4-byte big-endian length and a msgpack body
(msgspec, tagged structs). The parent sends :class:`Init` once, then :class:`Call` frames;
the worker answers each call with :class:`Result` or :class:`Failure` (same ``id``) and, on
its own, sends :class:`Ready` once, :class:`Report` every second, :class:`RoomClosed` when a
session's last participant is gone and :class:`RecordingFailed` when writing a recording fails.

A call is generic — "run this manager method for this session" — so a new relay command
needs only its name in :data:`relay.worker.WORKER_METHODS` and a one-line method on the pool.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import PurePath
from typing import Any, TypeVar

import msgspec

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""A frame is an SDP offer or answer (at most 64 KB) or a report; anything larger is a bug."""

_LENGTH = struct.Struct(">I")
T = TypeVar("T")


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
    recording: list[str] = []
    """Sessions whose recording is running."""


MEDIA_STACK_FIGURE = "media_stack_loaded"
"""A flag in :attr:`Report.stats`: the worker has imported the media stack (aiortc and its
native libraries), which stays mapped until the process ends. The pool replaces such a
worker once it has been idle for ``relay.worker_idle_recycle_s``."""


class RoomClosed(msgspec.Struct, tag=True):
    session_id: str


class RecordingFailed(msgspec.Struct, tag=True):
    """Writing a session's recording failed (a full disk): it has stopped in the worker."""

    session_id: str
    reason: str


ToWorker = Init | Call
FromWorker = Ready | Result | Failure | Report | RoomClosed | RecordingFailed


def _plain(value: Any) -> Any:
    """File paths (a recorded part's) travel as text."""
    if isinstance(value, PurePath):
        return str(value)
    # msgspec's enc_hook/dec_hook contract: NotImplementedError means "no conversion".
    raise NotImplementedError(f"{type(value).__name__} cannot cross to the web process")


def _typed(kind: type, value: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, PurePath):
        return kind(value)
    raise NotImplementedError(f"no conversion to {kind}")


def convert(value: Any, kind: type[T]) -> T:
    """A call's result as ``kind`` (a dataclass or struct the worker's method returned)."""
    return msgspec.convert(value, kind, dec_hook=_typed)


_encoder = msgspec.msgpack.Encoder(enc_hook=_plain)
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


def read_init(sock: socket.socket) -> Init:
    """The first frame on a worker's (blocking) socket, which must be :class:`Init`.

    Read before the worker's event loop exists, since the loop is one of the settings it
    brings. Raises EOFError when the socket closes first and FrameError for anything else.
    """
    (length,) = _LENGTH.unpack(_receive_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {length} bytes is larger than {MAX_FRAME_BYTES}")
    try:
        message = _to_worker.decode(_receive_exactly(sock, length))
    except msgspec.DecodeError as exc:
        raise FrameError(str(exc)) from exc
    if not isinstance(message, Init):
        raise FrameError("the first frame must be Init")
    return message


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = sock.recv_into(view[received:])
        if count == 0:
            raise EOFError(f"the socket closed after {received} of {size} bytes")
        received += count
    return bytes(buffer)
