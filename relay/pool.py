"""WorkerPool: the node's relay spread over worker processes, one event loop per core.

One event loop forwards about one core's worth of media (see DESIGN.md section 6), so a node
runs ``relay.workers`` relay processes (:mod:`relay.worker`). The pool stands behind the same
:class:`~relay.service.RelayService` interface as an in-process
:class:`~relay.manager.RelayManager`:

* placement: a session's first offer goes to the live worker carrying the fewest sessions
  (then the fewest streams), and the session stays there until its room closes; its offers,
  leaves and end are passed to that worker as generic calls (:mod:`relay.ipc`);
* a worker that dies (killed, crashed) is noticed at once (its socket closes, its process
  exits), its sessions are forgotten and a replacement is started. The pages' relay watchdog
  sees the media stop and re-offers; the new offer lands on a live worker;
* a worker that has carried sessions (so holds the media stack) and has carried none for
  ``relay.worker_idle_recycle_s`` is replaced by a fresh, smaller process
  (:mod:`relay.recycle`);
* ``stats()`` sums the workers' figures (totals of dead and recycled workers are kept, so
  counters never go down) and lists each worker's sessions, streams, CPU and memory.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
import structlog
from aiortc import RTCIceServer

from config.settings import RelaySettings
from relay import errors, ipc
from relay.manager import MAX_OFFER_BYTES
from relay.pool_figures import summed, worker_rows
from relay.recording.writer import PartResult
from relay.recycle import IdleRecycler
from relay.tasks import spawn
from relay.worker_process import CallFailed, WorkerDied, WorkerProcess, worker_environment

log = structlog.get_logger(__name__)

DEFAULT_COMMAND = (sys.executable, "-m", "relay.worker")
GAUGES = ("sessions", "peer_connections", "streams", "transcoding")
"""Figures of a worker's present; the other numeric figures are totals since it started."""
RESTART_DELAYS_S = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)
"""Waits before replacing a worker that died, growing while replacements keep dying quickly."""
STABLE_AFTER_S = 30.0
"""A worker that lived this long resets its slot's restart delay."""
OFFER_WAITS_FOR_WORKER_S = 10.0
"""How long a new session's offer waits for a worker while none runs (the node has just
started, or its only worker died and is being replaced) before it is refused with 503.
A worker starts in one to three seconds, so the first call after a deploy is answered
instead of sent away; a pool whose workers keep failing still answers within this bound."""
_ERRORS: dict[str, type[errors.RelayError]] = {
    cls.__name__: cls
    for cls in (
        errors.BadOffer,
        errors.RelayFull,
        errors.SessionBusy,
        errors.RelayUnavailable,
        errors.RecordingRefused,
    )
}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's cpuset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(setting: int) -> int:
    """``relay.workers`` as a number of processes: 0 means one per usable CPU core."""
    return setting if setting > 0 else usable_cores()


def _wire_ice(servers: list[RTCIceServer]) -> list[ipc.IceServer]:
    return [ipc.IceServer(s.urls, s.username, s.credential) for s in servers]


class WorkerPool:
    """``workers`` relay processes behind the :class:`~relay.service.RelayService` interface."""

    def __init__(
        self,
        settings: RelaySettings,
        ice_servers: list[RTCIceServer] | Callable[[], list[RTCIceServer]],
        *,
        workers: int | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        log_level: str = "INFO",
        log_json: bool | None = None,
        peer_timeout_s: float = 30.0,
        report_interval_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self._ice_servers = ice_servers
        self.size = workers if workers is not None else worker_count(settings.workers)
        self._command = tuple(command)
        self._init = ipc.Init(
            index=0,
            relay_settings=asdict(settings),
            log_level=log_level,
            log_json=log_json,
            peer_timeout_s=peer_timeout_s,
            report_interval_s=report_interval_s,
        )
        self._env = worker_environment(str(Path(__file__).resolve().parents[1]))
        self.workers: list[WorkerProcess | None] = [None] * self.size
        self._placement: dict[str, WorkerProcess] = {}
        self._participants: dict[str, set[str]] = {}
        self._recording_failed: dict[str, Callable[[str], None]] = {}
        """Sessions recording on a worker, with what to call if writing fails there."""
        self._in_flight: Counter[str] = Counter()
        self._calls_on: Counter[WorkerProcess] = Counter()
        """Calls on their way to each worker (an ``end`` is one after its session is gone)."""
        self._retired: dict[str, float] = {}
        self._restarts = [0] * self.size
        self._started_at = [0.0] * self.size
        self._quick_deaths = [0] * self.size
        self._tasks: set[asyncio.Task[None]] = set()
        self._check_failure: str | None = None
        self._initial: asyncio.Task[None] | None = None
        self._worker_up = asyncio.Event()
        """Set each time a worker comes up; offers waiting for one (none running) wake."""
        self.sessions_started = 0
        self.closed = False
        self._recycler = IdleRecycler(
            self,
            0.0 if settings.worker_preload else settings.worker_idle_recycle_s,
            self.size,
            self._tasks,
        )

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers in the background and return at once, so the web server listens
        (and the signaling hub serves) while they import aiortc and run their self-check.
        Until one runs, :attr:`unavailable_reason` says so (offers get 503, /readyz too).
        A worker whose self-check fails disables the relay, as the in-process manager does.
        Never raises; :meth:`wait_started` waits for the first round."""
        self._initial = spawn(self._tasks, self._start_all(), "workers-start")

    async def wait_started(self) -> None:
        """Until every worker of the first round is up (or failed to start)."""
        if self._initial is not None:
            await asyncio.shield(self._initial)

    async def _start_all(self) -> None:
        results = await asyncio.gather(
            *(self._start_worker(index) for index in range(self.size)), return_exceptions=True
        )
        for index, result in enumerate(results):
            if isinstance(result, Exception):
                log.error("relay.worker_start_failed", worker=index, detail=str(result))
                self._schedule_restart(index)
        if self._check_failure is None:
            log.info("relay.workers_ready", workers=self.size, alive=len(self._alive()))

    def _new_worker(self, index: int) -> WorkerProcess:
        return WorkerProcess(
            index,
            self._command,
            msgspec.structs.replace(self._init, index=index),
            on_exit=self._worker_exited,
            on_room_closed=self._room_closed,
            on_report=self._on_report,
            on_recording_failed=self._recording_stopped,
            env=self._env,
        )

    async def _launch(self, worker: WorkerProcess) -> None:
        try:
            await worker.start(self.settings.worker_start_timeout_s)
        except BaseException:
            await worker.close(timeout_s=1.0)
            raise

    async def _start_worker(self, index: int) -> None:
        worker = self._new_worker(index)
        self.workers[index] = worker
        self._started_at[index] = time.monotonic()  # a start that fails counts as a quick death
        await self._launch(worker)
        if worker.unavailable_reason is not None and self._check_failure is None:
            self._check_failure = worker.unavailable_reason
            log.error("relay.unavailable", reason=self._check_failure)
        self._worker_up.set()
        if self.closed:
            await worker.close()

    def _worker_exited(self, worker: WorkerProcess) -> None:
        """A worker died: forget its sessions (their pages renegotiate) and replace it."""
        dropped = [s for s, w in self._placement.items() if w is worker]
        for session_id in dropped:
            del self._placement[session_id]
            self._participants.pop(session_id, None)
            self._recording_failed.pop(session_id, None)
        self._keep_totals(worker)
        log.error(
            "relay.worker_replaced",
            worker=worker.index,
            pid=worker.pid,
            sessions_dropped=len(dropped),
        )
        if not self.closed:
            self._schedule_restart(worker.index)

    def _keep_totals(self, worker: WorkerProcess) -> None:
        """Add a worker's counters (as of its last report) to the totals, as it leaves."""
        for key, value in worker.figures.stats.items():
            if key not in GAUGES and isinstance(value, int | float) and not isinstance(value, bool):
                self._retired[key] = self._retired.get(key, 0) + value

    def _schedule_restart(self, index: int) -> None:
        lived = time.monotonic() - self._started_at[index]
        self._quick_deaths[index] = 0 if lived >= STABLE_AFTER_S else self._quick_deaths[index] + 1
        delay = RESTART_DELAYS_S[min(self._quick_deaths[index], len(RESTART_DELAYS_S) - 1)]
        spawn(self._tasks, self._restart(index, delay), f"worker-restart:{index}")

    async def _restart(self, index: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if self.closed:
            return
        self._restarts[index] += 1
        try:
            await self._start_worker(index)
        except Exception as exc:
            log.error("relay.worker_start_failed", worker=index, detail=str(exc))
            if not self.closed:
                self._schedule_restart(index)

    async def close(self) -> None:
        """Stop every worker (each closes its connections) and the restart timers."""
        self.closed = True
        self._worker_up.set()  # offers waiting for a worker give up now
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # gather, not "suppress(CancelledError): await task": that would also swallow a
        # cancellation of whoever is closing the pool (an interrupted bench kept running).
        await asyncio.gather(*tasks, return_exceptions=True)
        held = self._recycler.held()
        await asyncio.gather(*(w.close() for w in [*self.workers, *held] if w is not None))
        self._placement.clear()
        self._participants.clear()

    # --- the relay interface ---------------------------------------------------------

    @property
    def unavailable_reason(self) -> str | None:
        """The workers' failed self-check, or that no worker runs at the moment."""
        if self._check_failure is not None:
            return self._check_failure
        if not self.closed and not self._alive():
            return "no relay worker is running at the moment (one is being started); try again"
        return None

    def _alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w is not None and w.alive]

    def _least_loaded(self) -> WorkerProcess | None:
        placed = Counter(self._placement.values())
        return min(
            self._alive(),
            key=lambda w: (
                placed[w],
                w.figures.stats.get("streams", 0),
                w is self._recycler.replacing,  # among equals, not the one being replaced
                w.index,
            ),
            default=None,
        )

    async def answer(
        self, session_id: str, participant_id: str, offer_sdp: str, offer_type: str = "offer"
    ) -> tuple[str, str]:
        """Answer on the session's worker, placing a new session on the least-loaded one."""
        if self._check_failure is not None:
            raise errors.RelayUnavailable(self._check_failure)
        if self.closed:
            raise errors.RelayFull("the relay is shutting down")
        if offer_type != "offer":
            raise errors.BadOffer('the description type must be "offer"')
        if not offer_sdp.strip() or len(offer_sdp.encode()) > MAX_OFFER_BYTES:
            raise errors.BadOffer("the offer is empty or too large")
        worker = self._placement.get(session_id)
        if worker is None or not worker.alive:
            if len(self._placement) >= self.settings.max_sessions:
                raise errors.RelayFull(
                    f"this relay already carries {self.settings.max_sessions} sessions; "
                    "try again later"
                )
            worker = self._least_loaded() or await self._wait_for_worker(session_id)
            self._placement[session_id] = worker
            self.sessions_started += 1
            log.info("relay.session_placed", session=session_id, worker=worker.index)
        value = await self._call(
            worker, "answer", session_id, [participant_id, offer_sdp, offer_type]
        )
        self._participants.setdefault(session_id, set()).add(participant_id)
        sdp, kind = value
        return str(sdp), str(kind)

    async def _wait_for_worker(self, session_id: str) -> WorkerProcess:
        """A worker for a new session while none runs: the session's, if a concurrent offer
        placed it meanwhile, else the least-loaded one that comes up within
        :data:`OFFER_WAITS_FOR_WORKER_S`. Raises RelayUnavailable when none does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OFFER_WAITS_FOR_WORKER_S
        log.info("relay.offer_waits_for_worker", session=session_id)
        while True:
            if self._check_failure is not None:
                raise errors.RelayUnavailable(self._check_failure)
            if self.closed:
                raise errors.RelayFull("the relay is shutting down")
            placed = self._placement.get(session_id)
            worker = placed if placed is not None and placed.alive else self._least_loaded()
            if worker is not None:
                return worker
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise errors.RelayUnavailable(
                    "no relay worker is running at the moment (one is being started); try again"
                )
            # Cleared and awaited with no await in between, so a worker that comes up after
            # the check above always wakes this offer.
            self._worker_up.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._worker_up.wait(), remaining)

    async def leave(self, session_id: str, participant_id: str) -> bool:
        worker = self._placement.get(session_id)
        if worker is None or not worker.alive:
            return False
        left = bool(await self._call(worker, "leave", session_id, [participant_id]))
        self._participants.get(session_id, set()).discard(participant_id)
        return left

    async def end(self, session_id: str) -> bool:
        worker = self._placement.pop(session_id, None)
        self._participants.pop(session_id, None)
        if worker is None or not worker.alive:
            return False
        return bool(await self._call(worker, "end", session_id, []))

    def worker_of(self, session_id: str) -> int | None:
        """The slot of the worker carrying the session (None when it is not placed)."""
        worker = self._placement.get(session_id)
        return worker.index if worker is not None else None

    def has_participant(self, session_id: str, participant_id: str) -> bool:
        return participant_id in self._participants.get(session_id, ())

    async def call(self, session_id: str, method: str, *args: Any) -> Any:
        """Run another manager command for a placed session on its worker (the method must
        be in :data:`relay.worker.WORKER_METHODS`). None when the session is not placed."""
        worker = self._placement.get(session_id)
        if worker is None or not worker.alive:
            return None
        return await self._call(worker, method, session_id, list(args))

    async def _call(
        self, worker: WorkerProcess, method: str, session_id: str, args: list[Any]
    ) -> Any:
        """One call, with the worker's failures turned into the relay's errors."""
        ice = _wire_ice(self._current_ice_servers()) if method == "answer" else []
        self._in_flight[session_id] += 1
        self._calls_on[worker] += 1
        self._recycler.touched(worker)
        try:
            return await worker.call(method, session_id, args, ice)
        except WorkerDied as exc:
            raise errors.RelayUnavailable(
                "the relay process carrying this call stopped; try again"
            ) from exc
        except CallFailed as exc:
            known = _ERRORS.get(exc.kind)
            if known is None:  # a bug in the worker, logged there: a 503 the page retries
                raise errors.RelayUnavailable(
                    "the relay could not handle this request; try again"
                ) from exc
            raise known(str(exc)) from None
        finally:
            self._in_flight[session_id] -= 1
            if not self._in_flight[session_id]:
                del self._in_flight[session_id]
            self._calls_on[worker] -= 1
            if not self._calls_on[worker]:
                del self._calls_on[worker]

    async def start_recording(
        self, session_id: str, path: str, on_failed: Callable[[str], None] | None = None
    ) -> None:
        """Start recording on the session's worker (see
        :meth:`relay.manager.RelayManager.start_recording`); ``on_failed`` runs here when
        the worker reports that writing failed."""
        worker = self._placement.get(session_id)
        if worker is None or not worker.alive:
            raise errors.RecordingRefused("the session is not on the media relay")
        await self._call(worker, "start_recording", session_id, [path])
        self._recording_failed[session_id] = on_failed or (lambda _reason: None)

    async def stop_recording(self, session_id: str) -> PartResult | None:
        """Stop the session's recording on its worker and describe the finished part."""
        self._recording_failed.pop(session_id, None)
        worker = self._placement.get(session_id)
        if worker is None or not worker.alive:
            return None
        value = await self._call(worker, "stop_recording", session_id, [])
        return None if value is None else ipc.convert(value, PartResult)

    def is_recording(self, session_id: str) -> bool:
        """Whether the session's worker records it (as of the last start, stop, failure or
        report: a recording ends with its room, and the report says so within a second)."""
        return session_id in self._recording_failed

    def _recording_stopped(self, worker: WorkerProcess, session_id: str, reason: str) -> None:
        if self._placement.get(session_id) is worker:
            on_failed = self._recording_failed.pop(session_id, None)
            if on_failed is not None:
                on_failed(reason)

    def _current_ice_servers(self) -> list[RTCIceServer]:
        source = self._ice_servers
        return list(source() if callable(source) else source)

    def _room_closed(self, worker: WorkerProcess, session_id: str) -> None:
        """The worker's room emptied: the session may be placed anew, unless an offer for it
        is on its way to that worker already (it recreates the room there)."""
        if self._placement.get(session_id) is worker and not self._in_flight[session_id]:
            del self._placement[session_id]
            self._participants.pop(session_id, None)
            self._recording_failed.pop(session_id, None)

    def _reconcile(self, worker: WorkerProcess) -> None:
        """Take who is connected from the worker's report (a participant whose connection
        never came up is dropped there). A session with a call in flight keeps what the
        calls said: the report may predate the call, never the other way round, because a
        worker's frames arrive in the order it sent them."""
        rooms = worker.figures.rooms
        recording = set(worker.figures.recording)
        for session_id, placed in self._placement.items():
            if placed is worker and not self._in_flight[session_id]:
                self._participants[session_id] = set(rooms.get(session_id, ()))
                if session_id not in recording:
                    self._recording_failed.pop(session_id, None)

    # --- recycling an idle worker (relay.recycle) -------------------------------------

    @property
    def idle_recycle_s(self) -> float:
        """Idle seconds after which a worker holding the media stack is replaced (0: never;
        always 0 with ``relay.worker_preload``)."""
        return self._recycler.idle_after_s

    @property
    def recycling(self) -> int | None:
        """The slot whose worker is being replaced while its fresh process starts, if any."""
        replacing = self._recycler.replacing
        return replacing.index if replacing is not None else None

    def worker_busy(self, worker: WorkerProcess) -> bool:
        """Whether a session is placed on the worker, a call is on its way to it, or its last
        report shows a session or a connection still open."""
        stats = worker.figures.stats
        return (
            worker in self._placement.values()
            or self._calls_on[worker] > 0
            or bool(worker.figures.rooms)
            or bool(stats.get("sessions", 0))
            or bool(stats.get("peer_connections", 0))
        )

    async def start_spare(self, index: int) -> WorkerProcess:
        """A started worker for slot ``index``, outside the slot until :meth:`swap_in`."""
        worker = self._new_worker(index)
        await self._launch(worker)
        return worker

    def swap_in(self, old: WorkerProcess, fresh: WorkerProcess) -> None:
        """Put ``fresh`` in ``old``'s slot (the caller closes ``old``). Not a restart: the
        slot's restart delay and count stay as they were."""
        self._keep_totals(old)
        self.workers[old.index] = fresh
        self._started_at[old.index] = time.monotonic()

    def _on_report(self, worker: WorkerProcess) -> None:
        self._reconcile(worker)
        self._recycler.observe(worker)

    # --- figures ---------------------------------------------------------------------

    def worker_stats(self) -> list[dict[str, Any]]:
        """Per worker slot: whether it runs, its pid, sessions, streams, CPU seconds (a
        total since it started), CPU load (CPU-seconds per second over the last report
        interval), resident memory, whether it holds the media stack, restarts and recycles
        (replacements of an idle worker). For metrics labels and an operator view."""
        placed = Counter(self._placement.values())
        return worker_rows(self.workers, placed, self._restarts, self._recycler.recycles)

    def stats(self) -> dict[str, Any]:
        """The in-process manager's figures summed over the workers (as of their last
        report, at most a second old), plus ``workers`` (see :meth:`worker_stats`)."""
        result: dict[str, Any] = summed(self._retired, self._alive())
        result.update(
            sessions=len(self._placement),
            max_sessions=self.settings.max_sessions,
            sessions_started=self.sessions_started,
            workers=self.worker_stats(),
            workers_alive=len(self._alive()),
            worker_restarts=sum(self._restarts),
            worker_recycles=sum(self._recycler.recycles),
        )
        return result
