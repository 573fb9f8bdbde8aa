"""relay.udpbatch: a frame's packets leave in one call, whole and in order, on real sockets."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from relay import udpbatch
from relay.udpbatch import FrameBatch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="UDP GSO is Linux only")


class Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append(data)


class CountingTransport:
    """A real UDP transport that also counts the packets sent one by one through it."""

    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self.transport = transport
        self.one_by_one = 0

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.one_by_one += 1
        self.transport.sendto(data, addr)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.transport.is_closing()


@pytest.fixture
async def link() -> AsyncIterator[tuple[CountingTransport, Receiver, tuple[str, int]]]:
    loop = asyncio.get_running_loop()
    udpbatch.enable(True)
    receiver = Receiver()
    inbound, _ = await loop.create_datagram_endpoint(lambda: receiver, local_addr=("127.0.0.1", 0))
    outbound, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    yield CountingTransport(outbound), receiver, inbound.get_extra_info("sockname")
    inbound.close()
    outbound.close()


async def _arrived(receiver: Receiver, count: int) -> None:
    for _ in range(200):
        if len(receiver.datagrams) >= count:
            return
        await asyncio.sleep(0.01)


def _frame(sizes: list[int], tag: int) -> list[bytes]:
    return [bytes([tag, index]) * (size // 2) for index, size in enumerate(sizes)]


async def test_a_frame_leaves_in_one_call_whole_and_in_order(link: Any) -> None:
    transport, receiver, address = link
    batch = FrameBatch(transport, address)
    frame = _frame([1200, 1200, 1200, 700], tag=1)
    before = udpbatch.packets_batched()
    for index, packet in enumerate(frame):
        batch.send(packet, ends_frame=index == len(frame) - 1)
    await _arrived(receiver, 4)
    assert receiver.datagrams == frame
    assert transport.one_by_one == 0 and udpbatch.packets_batched() - before == 4


async def test_packets_that_do_not_fit_start_a_new_batch(link: Any) -> None:
    transport, receiver, address = link
    batch = FrameBatch(transport, address)
    packets = _frame([1000, 1200, 1200, 1200], tag=2)  # the first is smaller than the rest
    for index, packet in enumerate(packets):
        batch.send(packet, ends_frame=index == len(packets) - 1)
    await _arrived(receiver, 4)
    assert receiver.datagrams == packets
    assert transport.one_by_one == 1  # the lone first packet; the other three in one call


async def test_without_a_marker_the_end_of_the_loop_round_sends(link: Any) -> None:
    transport, receiver, address = link
    batch = FrameBatch(transport, address)
    packets = _frame([1200, 1200], tag=3)
    for packet in packets:
        batch.send(packet, ends_frame=False)
    assert receiver.datagrams == []  # held within this round only
    await _arrived(receiver, 2)
    assert receiver.datagrams == packets


async def test_a_kernel_that_refuses_turns_batching_off(
    link: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport, receiver, address = link

    class Refusing(socket.socket):  # the fault: a kernel without UDP GSO
        def sendmsg(self, *args: Any, **kwargs: Any) -> int:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(socket, "socket", Refusing)
    batch = FrameBatch(transport, address)
    frame = _frame([1200, 1200, 600], tag=4)
    for index, packet in enumerate(frame):
        batch.send(packet, ends_frame=index == len(frame) - 1)
    await _arrived(receiver, 3)
    assert receiver.datagrams == frame  # still sent, one by one
    assert not udpbatch.enabled()
    batch.send(frame[0], ends_frame=False)  # from now on straight through
    assert transport.one_by_one == 4
    udpbatch.enable(True)


async def test_switched_off_it_sends_every_packet_at_once(link: Any) -> None:
    transport, _receiver, address = link
    udpbatch.enable(False)
    try:
        batch = FrameBatch(transport, address)
        batch.send(b"a" * 100, ends_frame=False)
        assert transport.one_by_one == 1
    finally:
        udpbatch.enable(True)


def test_on_uvloop_a_frame_leaves_in_one_call() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def frame_over_uvloop() -> tuple[list[bytes], list[bytes], int]:
        loop = asyncio.get_running_loop()
        udpbatch.enable(True)
        receiver = Receiver()
        inbound, _ = await loop.create_datagram_endpoint(
            lambda: receiver, local_addr=("127.0.0.1", 0)
        )
        outbound, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        transport = CountingTransport(outbound)
        batch = FrameBatch(transport, inbound.get_extra_info("sockname"))
        frame = _frame([1100, 1100, 1100, 1100, 300], tag=5)
        for index, packet in enumerate(frame):
            batch.send(packet, ends_frame=index == len(frame) - 1)
        await _arrived(receiver, len(frame))
        inbound.close()
        outbound.close()
        return frame, receiver.datagrams, transport.one_by_one

    sent, received, one_by_one = uvloop.run(frame_over_uvloop())
    assert received == sent and one_by_one == 0


async def test_closing_a_batch_leaves_the_transports_socket_open(link: Any) -> None:
    transport, receiver, address = link
    batch = FrameBatch(transport, address)
    frame = _frame([1200, 1200, 500], tag=6)
    for index, packet in enumerate(frame):
        batch.send(packet, ends_frame=index == len(frame) - 1)
    batch.close()
    del batch
    transport.sendto(b"after", address)  # the transport's own descriptor still works
    await _arrived(receiver, 4)
    assert receiver.datagrams == [*frame, b"after"]


async def test_a_closing_transport_is_not_written_behind_its_back(link: Any) -> None:
    transport, _receiver, address = link
    batch = FrameBatch(transport, address)
    batch.send(b"a" * 1000, ends_frame=False)
    batch.send(b"b" * 1000, ends_frame=False)
    before = udpbatch.packets_batched()
    transport.transport.close()
    batch.flush()  # handed to the closing transport, which does what it does with them
    assert transport.one_by_one == 2 and udpbatch.packets_batched() == before
