"""The frames between the web process and a relay worker: round trips and refusals."""

from __future__ import annotations

import asyncio
import struct

import pytest

from relay import ipc


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_a_call_and_its_answers_round_trip() -> None:
    call = ipc.Call(7, "answer", "s1", ["alice", "v=0\r\n", "offer"], [ipc.IceServer("stun:x")])
    assert await ipc.read_to_worker(_reader(ipc.encode(call))) == call
    frames: list[ipc.FromWorker] = [
        ipc.Ready(42, None, "asyncio"),
        ipc.Result(7, ["v=0\r\n", "answer"]),
        ipc.Failure(8, "SessionBusy", "two already"),
        ipc.Report({"streams": 2}, 1.5, 1024, {"s1": ["alice"]}),
        ipc.RoomClosed("s1"),
    ]
    reader = _reader(b"".join(ipc.encode(frame) for frame in frames))
    assert [await ipc.read_from_worker(reader) for _ in frames] == frames
    with pytest.raises(asyncio.IncompleteReadError):  # the worker went away
        await ipc.read_from_worker(reader)


async def test_oversized_or_foreign_frames_are_refused() -> None:
    huge = struct.pack(">I", ipc.MAX_FRAME_BYTES + 1)
    with pytest.raises(ipc.FrameError):
        await ipc.read_from_worker(_reader(huge))
    garbage = struct.pack(">I", 3) + b"\xc1\xc1\xc1"
    with pytest.raises(ipc.FrameError):
        await ipc.read_from_worker(_reader(garbage))
    # A worker never receives what only a worker sends.
    with pytest.raises(ipc.FrameError):
        await ipc.read_to_worker(_reader(ipc.encode(ipc.RoomClosed("s1"))))
