"""A frame's packets to one subscriber in one system call (Linux UDP segmentation offload).

Sending is the largest single cost of forwarding a packet: one ``sendto`` per packet per
subscriber, and on loopback the same call also delivers the datagram. A video frame is
packetised into packets of one size but the last, which is what UDP GSO (``UDP_SEGMENT``,
Linux 4.18) sends as one buffer: the kernel cuts it into datagrams of the given size. So the
outlet hands each protected packet to its :class:`FrameBatch` with the packet's marker bit,
and the batch sends what it holds

* at the marker bit (the end of a frame),
* before a packet that does not fit (larger than the first, or after a smaller last one),
* at the end of the event loop's current round (what was received in one wake-up is sent
  before the loop waits again), so holding a packet never adds more than that round.

A batch of one goes through the transport's ``sendto`` as before. Batching is off where the
transport is not a plain UDP socket (TURN wraps each packet in ChannelData), when
``relay.udp_gso`` is false, and for the rest of the process once the kernel refuses it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

import structlog
from aioice.turn import TurnTransport

log = structlog.get_logger(__name__)

UDP_SEGMENT = 103
"""``UDP_SEGMENT`` from linux/udp.h: the segment size, as an ancillary message at SOL_UDP."""
MAX_SEGMENTS = 64
"""The kernel's limit of segments per call (UDP_MAX_SEGMENTS)."""
MAX_BYTES = 60_000
"""Stay below the 64 KB a single UDP send may carry, headers included."""
_SEGMENT_SIZE = struct.Struct("=H")
_REFUSED = frozenset({errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP})
"""What a kernel or device without UDP GSO answers: stop trying for this process."""


class _State:
    enabled = sys.platform == "linux"
    dirty: list[FrameBatch] = []
    flush_scheduled = False
    batched = 0
    """Packets sent in batches of two or more so far (in this process)."""


def enable(on: bool) -> None:
    """Switch batching on or off for this process (``relay.udp_gso``)."""
    _State.enabled = on and sys.platform == "linux"


def enabled() -> bool:
    """Whether sends are batched now (false too once the kernel refused)."""
    return _State.enabled


def packets_batched() -> int:
    """Packets that left in batches of two or more, so far in this process."""
    return _State.batched


def _flush_dirty() -> None:
    _State.flush_scheduled = False
    dirty, _State.dirty = _State.dirty, []
    for batch in dirty:
        try:
            batch.flush()
        except Exception:  # one subscriber's failure must not hold the others' packets
            log.exception("relay.udp_batch_failed")


Send = Callable[[bytes, tuple[str, int]], None]


class FrameBatch:
    """Protected packets to one address on one UDP transport, sent a frame at a time."""

    __slots__ = (
        "_address",
        "_bytes",
        "_control",
        "_control_segment",
        "_family",
        "_fd",
        "_loop",
        "_pending",
        "_segment",
        "_sendto",
        "_socket",
        "_transport",
    )

    def __init__(self, transport: Any, address: tuple[str, int]) -> None:
        self._transport = transport
        self._sendto: Send = transport.sendto
        self._address = address
        self._pending: list[bytes] = []
        self._segment = 0
        self._bytes = 0
        self._control: list[tuple[int, int, bytes]] = []
        self._control_segment = 0
        self._socket: socket.socket | None = None
        """Our own duplicate of the transport's descriptor, made at the first batch: a
        socket object cannot wrap a descriptor it does not own without closing it when
        collected, and building one per call costs a system call of its own."""
        self._fd = -1
        self._family = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop the first batch is held on (looked up once: each lookup is a getpid)."""
        sock: Any = transport.get_extra_info("socket") if _plain_udp(transport) else None
        datagram = sock is not None and sock.type == socket.SOCK_DGRAM
        if datagram and sock.family in (socket.AF_INET, socket.AF_INET6):
            self._fd = sock.fileno()
            self._family = sock.family

    def send(self, packet: bytes, ends_frame: bool) -> None:
        """Send ``packet`` now or with the rest of its frame (by the end of this loop round)."""
        if self._fd < 0 or not _State.enabled:
            self._sendto(packet, self._address)
            return
        pending = self._pending
        size = len(packet)
        if pending:
            if size > self._segment:
                self.flush()
            else:
                pending.append(packet)
                self._bytes += size
                if (
                    ends_frame
                    or size < self._segment
                    or len(pending) >= MAX_SEGMENTS
                    or self._bytes + self._segment > MAX_BYTES
                ):
                    self.flush()
                return
        if ends_frame:
            self._sendto(packet, self._address)
            return
        self._pending = [packet]
        self._segment = size
        self._bytes = size
        _State.dirty.append(self)
        if not _State.flush_scheduled:
            _State.flush_scheduled = True
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(_flush_dirty)

    def flush(self) -> None:
        """Send what is held (nothing to do when empty)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if len(pending) == 1:
            self._sendto(pending[0], self._address)
            return
        sock = self._socket
        if sock is None or self._transport.is_closing():
            sock = self._open()
            if sock is None:
                for packet in pending:  # a closing transport drops them, as it should
                    self._sendto(packet, self._address)
                return
        control = self._control
        if self._control_segment != self._segment:  # the same size frame after frame
            self._control_segment = self._segment
            control = self._control = [
                (socket.SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(self._segment))
            ]
        try:
            sock.sendmsg(pending, control, 0, self._address)
            _State.batched += len(pending)
        except OSError as exc:
            if exc.errno in _REFUSED:
                _State.enabled = False
                log.warning("relay.udp_gso_refused", error=exc.strerror)
            # Full socket buffer or anything else: one by one through the transport,
            # which queues or reports the error as it always does.
            for packet in pending:
                self._sendto(packet, self._address)

    def _open(self) -> socket.socket | None:
        """Our socket on the transport's descriptor; None (and ours closed) once it closes."""
        if self._transport.is_closing():
            self.close()
            return None
        self._socket = socket.socket(self._family, socket.SOCK_DGRAM, 0, os.dup(self._fd))
        return self._socket

    def close(self) -> None:
        """Close our duplicate descriptor (the transport's own is never touched)."""
        self._fd = -1
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __del__(self) -> None:
        sock = self._socket
        if sock is not None:
            sock.close()


def _plain_udp(transport: Any) -> bool:
    """A transport that sends datagrams as they are (not aioice's TURN relay transport)."""
    return not isinstance(transport, TurnTransport)
