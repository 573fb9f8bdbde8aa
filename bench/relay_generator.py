"""One load generator process of the worker scaling bench (:mod:`bench.relay_scaling`).

``python -m bench.relay_generator URL FIRST COUNT FRAMES_FILE`` wires streams ``FIRST`` ..
``FIRST + COUNT - 1`` through the relay behind ``URL`` (``POST URL/offer``, one session
``s<index>`` per stream): per stream one publisher replaying the pre-encoded frames in
``FRAMES_FILE`` (msgpack list of VP8 frames) at 30 fps and one subscriber counting the frames
it gets (marker bits, no decoding). It prints one JSON line when every stream is wired, then
answers each ``snap`` line on stdin with a JSON line of its counters; end of input stops it.

The bench runs several of these because one Python process with aiortc peers costs more
CPU per stream than the relay it drives: a single generator process (one core at most) would
run out of CPU before two capped relay workers do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import ClientSession
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.media import PacketLoopTrack, loopback_only, offer
from bench.procstat import own_cpu_seconds
from bench.relay_load import vp8_payload_type

CONNECT_CONCURRENCY = 4
"""Streams this process wires at once (each costs DTLS handshakes on both sides)."""


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class Streams:
    """This process's publishers and subscribers, with their frame counters."""

    def __init__(self, url: str, first: int, count: int, frames: list[bytes]) -> None:
        self._url = url
        self._first = first
        self._frames = frames
        self.tracks: list[PacketLoopTrack | None] = [None] * count
        self.received = [0] * count
        self.pcs: list[RTCPeerConnection] = []
        self.all_receiving = asyncio.Event()

    async def _offer(
        self, http: ClientSession, session: str, participant: str, pc: RTCPeerConnection
    ) -> None:
        sdp, kind = await offer(pc)
        body = {"session": session, "participant": participant, "sdp": sdp, "type": kind}
        async with http.post(f"{self._url}/offer", json=body) as response:
            answer = await response.json()
            if response.status != 200:
                raise RuntimeError(f"the relay refused {session}/{participant}: {answer}")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def wire(self, http: ClientSession, slot: int, limit: asyncio.Semaphore) -> None:
        track = PacketLoopTrack(self._frames)
        self.tracks[slot] = track
        publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        publisher.addTransceiver(track, direction="sendonly")
        subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        subscriber.addTransceiver("video", direction="recvonly")
        self.pcs += [publisher, subscriber]
        session = f"s{self._first + slot}"
        async with limit:
            await self._offer(http, session, "pub", publisher)
            await self._offer(http, session, "sub", subscriber)
        payload_type = vp8_payload_type(subscriber.remoteDescription.sdp)
        received = self.received
        all_receiving = self.all_receiving

        async def count(packet: Any, arrival_time_ms: int) -> None:
            # A frame's last packet carries the marker bit; retransmissions do not count.
            if packet.marker and packet.payload_type == payload_type:
                received[slot] += 1
                if received[slot] == 1 and min(received) > 0:
                    all_receiving.set()

        receiver = subscriber.getTransceivers()[0].receiver
        receiver._handle_rtp_packet = count  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, Any]:
        return {
            "event": "snap",
            "sent": [track.frames_sent if track else 0 for track in self.tracks],
            "received": list(self.received),
            "cpu": own_cpu_seconds(),
        }


async def _stdin_lines() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def generate(url: str, first: int, count: int, frames: list[bytes]) -> None:
    streams = Streams(url, first, count, frames)
    commands = await _stdin_lines()
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    try:
        async with ClientSession() as http:
            await asyncio.gather(*(streams.wire(http, slot, limit) for slot in range(count)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(streams.all_receiving.wait(), 20 + count / 5)
        receiving = sum(1 for value in streams.received if value)
        _emit({"event": "wired", "streams": count, "receiving": receiving})
        while line := await commands.readline():
            if line.strip() == b"snap":
                _emit(streams.snapshot())
    finally:
        for pc in streams.pcs:
            await pc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_generator", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("frames", type=Path)
    args = parser.parse_args(argv)
    frames = msgspec.msgpack.decode(args.frames.read_bytes(), type=list[bytes])
    try:
        with loopback_only():
            asyncio.run(generate(args.url, args.first, args.count, frames))
    except Exception as exc:  # the bench reads stdout: say what failed there
        _emit({"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
