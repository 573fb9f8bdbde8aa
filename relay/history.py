"""What a subscriber's stream sent lately, kept as bytes to answer its NACKs.

aiortc keeps an ``RtpPacket`` object per sent packet in a dict for this. The fast path
stores the bytes it sent in a fixed ring instead: one list slot per packet, no object to
build and nothing for the garbage collector to walk (bytes are not tracked). The ring's size
is ``relay.send_history_packets``, so it bounds the memory of every forwarded stream.
"""

from __future__ import annotations


class SendHistory:
    """The last ``size`` packets of one stream, by sequence number."""

    __slots__ = ("packets", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.packets: list[bytes] = [b""] * size
        """Written directly by the fast path: ``packets[sequence % size] = data``."""

    def find(self, sequence: int) -> bytes | None:
        """The packet sent with ``sequence``, if it is still kept."""
        data = self.packets[sequence % self.size]
        if len(data) >= 12 and int.from_bytes(data[2:4], "big") == sequence:
            return data
        return None

    def clear(self) -> None:
        self.packets = [b""] * self.size
