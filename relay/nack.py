"""Loss tracking on a publisher's stream, for the NACKs the relay sends as its receiver."""

from __future__ import annotations

NACK_WINDOW = 128
"""Default: packets further back than this are not asked for again (aiortc's senders keep
128 packets of history)."""


class LossTracker:
    """The sequence numbers missing from one stream, for NACKs.

    Does what aiortc's ``NackGenerator`` does, but cheaper per packet: most packets are one
    more than the last, and the missing set is pruned only when its oldest entry can have
    left the window (``_budget`` counts the packets until then), not on every packet.
    """

    __slots__ = ("_budget", "highest", "missing", "window")

    def __init__(self, window: int = NACK_WINDOW) -> None:
        self.window = window
        self.highest: int | None = None
        self.missing: set[int] = set()
        self._budget = 0

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
            if self.missing:
                self.missing.discard(sequence)
            return False
        self.highest = sequence
        if ahead > 1:
            window = self.window
            first = highest + 1 if ahead <= window else highest + ahead - window
            self.missing.update(value & 0xFFFF for value in range(first, highest + ahead))
            self._prune(sequence)
            return True
        if self.missing:
            self._budget -= 1
            if self._budget < 0:
                self._prune(sequence)
        return False

    def _prune(self, sequence: int) -> None:
        """Forget what is now too old to ask for; note when the next entry gets too old."""
        window = self.window
        kept = {value for value in self.missing if (sequence - value) & 0xFFFF <= window}
        self.missing = kept
        oldest = max(((sequence - value) & 0xFFFF for value in kept), default=0)
        self._budget = window - oldest
