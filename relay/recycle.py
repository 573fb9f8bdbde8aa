"""Idle relay workers go back to their fresh size: a worker that has carried a session, and
so holds the media stack, and has carried none for ``relay.worker_idle_recycle_s`` is replaced
by a fresh process.

A worker imports aiortc (pyOpenSSL, libsrtp, aioice) at its first session, and those native
libraries stay mapped until the process ends: an idle worker that once relayed a call keeps
about 58 MB of RSS where a fresh one has 31 (docs/relay-performance.md). Only a new process
gives that back.

The swap cannot race a placement. The fresh worker (the *spare*) is started while the old
one stays in service; when the spare is ready, the old worker is checked — no session placed
on it, no call in flight to it, nothing in its last report — and taken out of its slot in the
same step, with no ``await`` in between, so nothing can be placed on it after the check. A
placement that arrives while the spare is starting goes to another worker when one is as
free (the pool ranks the worker being replaced last among equals), else to the old worker,
which calls the recycling off: the spare is closed and the idle clock starts again. After the
swap, placements find the fresh worker in the slot.

One worker is recycled at a time. A recycle is not a death: the pool's restart delay and
restart count are untouched; it is counted apart (``panamia_relay_worker_recycles_total``).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Protocol

import structlog

from relay.ipc import MEDIA_STACK_FIGURE
from relay.tasks import spawn
from relay.worker_process import WorkerProcess

log = structlog.get_logger(__name__)


class RecyclingPool(Protocol):
    """What the recycler needs of :class:`relay.pool.WorkerPool`."""

    closed: bool
    workers: list[WorkerProcess | None]

    def worker_busy(self, worker: WorkerProcess) -> bool:
        """Whether a session is placed on the worker, a call is on its way to it, or its
        last report shows a session or connection."""
        ...

    async def start_spare(self, index: int) -> WorkerProcess:
        """A started worker for slot ``index``, not yet in the slot."""
        ...

    def swap_in(self, old: WorkerProcess, fresh: WorkerProcess) -> None:
        """Put ``fresh`` in ``old``'s slot, keeping ``old``'s counters in the totals."""
        ...


class IdleRecycler:
    """Keeps each worker's idle clock and replaces a worker whose clock ran out."""

    def __init__(
        self,
        pool: RecyclingPool,
        idle_after_s: float,
        slots: int,
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self._pool = pool
        self.idle_after_s = idle_after_s
        """0: off."""
        self.recycles = [0] * slots
        """Workers replaced per slot because they were idle."""
        self.replacing: WorkerProcess | None = None
        """The worker whose spare is being started: still in service, placed last among
        equals. None again once it is swapped out or stays."""
        self._running = False
        """A recycling is under way (from the spare's start to the old worker's exit)."""
        self._idle_since: weakref.WeakKeyDictionary[WorkerProcess, float] = (
            weakref.WeakKeyDictionary()
        )
        self._served: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()
        """Workers that have been sent a call. Only those are recycled: a worker whose
        start-up code imported aiortc without any session would come back the same."""
        self._held: set[WorkerProcess] = set()
        """Spares not (yet) in a slot and retired workers still closing."""
        self._tasks = tasks

    def touched(self, worker: WorkerProcess) -> None:
        """A call goes to the worker: its idle spell (if any) is over."""
        self._served.add(worker)
        self._idle_since.pop(worker, None)

    def observe(self, worker: WorkerProcess) -> None:
        """After each report of a worker: run its idle clock; start recycling when it is due."""
        if self.idle_after_s <= 0 or self._pool.closed:
            return
        if self._pool.workers[worker.index] is not worker or not worker.alive:
            self._idle_since.pop(worker, None)
            return
        loaded = worker in self._served and worker.figures.stats.get(MEDIA_STACK_FIGURE)
        if not loaded or self._pool.worker_busy(worker):
            self._idle_since.pop(worker, None)
            return
        now = time.monotonic()
        since = self._idle_since.setdefault(worker, now)
        if now - since >= self.idle_after_s and not self._running:
            self._running = True
            self.replacing = worker
            spawn(self._tasks, self._recycle(worker), f"worker-recycle:{worker.index}")

    def held(self) -> list[WorkerProcess]:
        """Workers outside the slots that the pool must still close when it closes."""
        return list(self._held)

    async def _recycle(self, old: WorkerProcess) -> None:
        try:
            await self._replace(old)
        finally:
            self.replacing = None
            self._running = False

    async def _replace(self, old: WorkerProcess) -> None:
        idle_s = time.monotonic() - self._idle_since.get(old, time.monotonic())
        try:
            fresh = await self._pool.start_spare(old.index)
        except Exception as exc:
            self.replacing = None
            log.warning("relay.worker_recycle_failed", worker=old.index, detail=str(exc))
            self._idle_since[old] = time.monotonic()  # try again after another idle spell
            return
        self._held.add(fresh)
        # From here to swap_in nothing awaits: no placement can reach ``old`` in between.
        self.replacing = None
        reason = self._why_not(old, fresh)
        if reason is not None:
            log.info("relay.worker_recycle_called_off", worker=old.index, why=reason)
            self._idle_since[old] = time.monotonic()
            await fresh.close()
            self._held.discard(fresh)  # kept if cancelled: the pool's close finishes the job
            return
        self._pool.swap_in(old, fresh)
        self._held.discard(fresh)
        self._held.add(old)
        self._idle_since.pop(old, None)
        self.recycles[old.index] += 1
        log.info(
            "relay.worker_recycled",
            worker=old.index,
            pid=fresh.pid,
            previous_pid=old.pid,
            idle_s=round(idle_s, 1),
            previous_rss_mb=round(old.figures.rss_bytes / 2**20, 1),
        )
        await old.close()
        self._held.discard(old)

    def _why_not(self, old: WorkerProcess, fresh: WorkerProcess) -> str | None:
        """Why ``old`` must stay after all (None: swap it out now)."""
        if self._pool.closed:
            return "the relay is shutting down"
        if self._pool.workers[old.index] is not old or not old.alive:
            return "the worker ended meanwhile"
        if self._pool.worker_busy(old):
            return "a session came to it meanwhile"
        if fresh.unavailable_reason is not None or not fresh.alive:
            return f"the fresh worker cannot serve: {fresh.unavailable_reason or 'it stopped'}"
        return None
