"""How late the load tester's own event loop runs: the figure that tells a load tester
overloaded by its peers apart from a slow server (see docs/loadtest.md)."""

from __future__ import annotations

import asyncio
import time

PROBE_S = 0.05
"""How often the loop's lateness is probed."""


class LagProbe:
    """Sleeps :data:`PROBE_S` over and over and keeps the worst overshoot until taken.

    aioice gives a consent-freshness check 0.5 s and closes the connection after six failed
    checks in a row, and with both peers of a direct session in one process an answer needs
    two turns of the loop: a lag near 0.25 s is the danger sign.
    """

    def __init__(self) -> None:
        self._worst_s = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            asked = time.monotonic()
            await asyncio.sleep(PROBE_S)
            self._worst_s = max(self._worst_s, time.monotonic() - asked - PROBE_S)

    def take_worst_ms(self) -> float:
        """The worst lateness since the last call, in milliseconds."""
        worst, self._worst_s = self._worst_s, 0.0
        return round(worst * 1000, 1)
