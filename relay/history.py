"""What a subscriber's stream sent lately, kept as bytes to answer its NACKs.

aiortc keeps an ``RtpPacket`` object per sent packet in a dict for this. The fast path
stores the bytes it sent in a ring instead: one list slot per packet, no object to build and
nothing for the garbage collector to walk (bytes are not tracked).

The ring holds what the last ``relay.send_history_ms`` of the stream need, never more than
``relay.send_history_packets``: the manager calls :meth:`SendHistory.fit` about once a
second with the stream's packet count, and the ring is resized (rarely: only when the rate
moved by a quarter) to the packets that time window holds at the measured rate. A 1 Mbit/s
video stream sends about 110 packets a second, so 300 ms keep about 40 packets (45 KB)
where a fixed 128 kept 150 KB; an audio stream keeps the minimum. The fast path writes
``packets[sequence % size]`` and never pays for the sizing.
"""

from __future__ import annotations

import math

MIN_SLOTS = 16
"""Never fewer slots: a quiet stream (audio, a still picture) still answers a burst of NACKs."""
HEADROOM = 1.25
"""Slots kept beyond what the window needs at the measured rate (rates vary within a second)."""


class SendHistory:
    """The last packets of one stream, by sequence number (at most ``limit``)."""

    __slots__ = ("_counted", "_counted_at", "limit", "packets", "size")

    def __init__(self, size: int) -> None:
        self.limit = size
        """The most slots the ring may have (``relay.send_history_packets``)."""
        self.size = size
        self.packets: list[bytes] = [b""] * size
        """Written directly by the fast path: ``packets[sequence % size] = data``."""
        self._counted = 0
        self._counted_at: float | None = None

    def find(self, sequence: int) -> bytes | None:
        """The packet sent with ``sequence``, if it is still kept."""
        data = self.packets[sequence % self.size]
        if len(data) >= 12 and int.from_bytes(data[2:4], "big") == sequence:
            return data
        return None

    def clear(self) -> None:
        self.packets = [b""] * self.size

    def fit(self, sent: int, now: float, window_ms: int) -> None:
        """Size the ring for ``window_ms`` at the rate since the last call (``sent``: the
        stream's packets so far, ``now``: a monotonic clock in seconds)."""
        last_count, last_at = self._counted, self._counted_at
        self._counted, self._counted_at = sent, now
        if last_at is None or now <= last_at or sent < last_count:
            return
        rate = (sent - last_count) / (now - last_at)
        wanted = math.ceil(rate * window_ms / 1000 * HEADROOM)
        slots = min(self.limit, max(MIN_SLOTS, wanted))
        if slots != self.size and abs(slots - self.size) * 4 >= self.size:
            self.resize(slots)

    def resize(self, slots: int) -> None:
        """Keep the newest packets that fit in ``slots``."""
        kept = [data for data in self.packets if len(data) >= 12]
        ring: list[bytes] = [b""] * slots
        if kept:
            sequences = [int.from_bytes(data[2:4], "big") for data in kept]
            anchor = sequences[0]
            ahead = [((s - anchor + 0x8000) & 0xFFFF) - 0x8000 for s in sequences]
            newest = anchor + max(ahead)
            for data, sequence in zip(kept, sequences, strict=True):
                if (newest - sequence) & 0xFFFF < slots:
                    ring[sequence % slots] = data
        self.packets = ring
        self.size = slots
