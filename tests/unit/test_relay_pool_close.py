"""Closing the worker pool does not swallow a cancellation of whoever closes it."""

from __future__ import annotations

import asyncio

from config.settings import RelaySettings
from relay.pool import WorkerPool


async def test_a_cancelled_close_stays_cancelled() -> None:
    pool = WorkerPool(RelaySettings(), [], workers=0)
    cleaning_up = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cleaning_up.set()
            await asyncio.sleep(0.2)  # a background task that takes a moment to finish
            raise

    background = asyncio.ensure_future(slow_to_stop())
    pool._tasks.add(background)
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(pool.close())
    await cleaning_up.wait()
    closing.cancel()  # e.g. Ctrl-C in a bench while the pool closes
    await asyncio.gather(closing, return_exceptions=True)
    assert closing.cancelled()
    await asyncio.gather(background, return_exceptions=True)
    assert pool.closed
