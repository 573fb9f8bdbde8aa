"""Loss tracking on a publisher's stream, for the NACKs the relay sends as its receiver."""

from __future__ import annotations

from aiortc.rtp import RTP_HISTORY_SIZE

NACK_WINDOW = RTP_HISTORY_SIZE
"""Packets further back than this are not asked for again (the sender no longer has them)."""


class LossTracker:
    """The sequence numbers missing from one stream, for NACKs.

    Does what aiortc's ``NackGenerator`` does, but walks its missing set only when there is
    one: most packets are one more than the last.
    """

    __slots__ = ("highest", "missing")

    def __init__(self) -> None:
        self.highest: int | None = None
        self.missing: set[int] = set()

    def add(self, sequence: int) -> bool:
        """Record a packet; True when it revealed a new gap (time to send a NACK)."""
        highest = self.highest
        if highest is None:
            self.highest = sequence
            return False
        ahead = (sequence - highest) & 0xFFFF
        if ahead == 0:
            return False
        if ahead >= 0x8000:  # older than the highest: a retransmission or reordering
            self.missing.discard(sequence)
            return False
        self.highest = sequence
        missed = ahead > 1
        if missed:
            first = highest + 1 if ahead <= NACK_WINDOW else highest + ahead - NACK_WINDOW
            self.missing.update(value & 0xFFFF for value in range(first, highest + ahead))
        if self.missing:
            self.missing = {
                value for value in self.missing if (sequence - value) & 0xFFFF <= NACK_WINDOW
            }
        return missed
