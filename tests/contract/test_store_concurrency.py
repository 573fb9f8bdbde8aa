"""Double booking under contention: many overlapping bookings at once, exactly one wins."""

from __future__ import annotations

import asyncio
import random

from store.base import Conflict, Store
from store.models import Session, slot_cells
from tests.contract.conftest import BASE, booking, minutes

BUSY = "busy@example.com"
"""Takes part in every booking, as mentor or as mentee: every pair of bookings collides."""


def contenders(count: int, seed: int = 7) -> list[Session]:
    """``count`` bookings that all touch the 30-minute cell starting at BASE."""
    rng = random.Random(seed)
    shapes = [
        (BASE, 15),
        (BASE, 30),
        (BASE, 120),
        (BASE + minutes(15), 15),
        (BASE - minutes(30), 60),
        (BASE - minutes(30), 90),
        (BASE - minutes(60), 90),
        (BASE - minutes(60), 120),
    ]
    sessions = []
    for i in range(count):
        start, duration = rng.choice(shapes)
        assert BASE in slot_cells(start, duration)
        other = f"person{i % 17}@example.com"
        if rng.random() < 0.5:
            sessions.append(booking(BUSY, other, start, duration))
        else:
            sessions.append(booking(other, BUSY, start, duration))
    return sessions


async def test_two_hundred_overlapping_bookings_one_wins(store: Store) -> None:
    attempts = contenders(200)
    results = await asyncio.gather(
        *(store.create_session(s) for s in attempts), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Session)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1, [r for r in results if not isinstance(r, Session | Conflict)]
    assert len(losers) == 199

    stored = await store.list_sessions(BUSY)
    assert stored == winners
    # The losers left no claim behind: once the winner cancels, everyone is free again over
    # the whole span the contenders touched.
    await store.cancel_session(winners[0].session_id, BUSY, "Freeing", BASE - minutes(120))
    span_start, span = BASE - minutes(60), 180
    await store.create_session(booking("late@example.com", BUSY, span_start, span))
    for i in range(17):
        await store.create_session(
            booking(f"m{i}@example.com", f"person{i}@example.com", span_start, span)
        )
