"""The web process's handle on one relay worker process: start it, call it, notice its end.

:class:`WorkerProcess` spawns the worker with one end of a socket pair, sends
:class:`~relay.ipc.Init`, waits for :class:`~relay.ipc.Ready`, then matches results to calls
by id. Reports and room events go to the pool's callbacks. The worker's end is noticed both
ways it shows: the socket reaches end of file (or breaks), and the process exits. Either
fails every call in flight with :class:`WorkerDied` and tells the pool once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from relay import ipc
from relay.tasks import spawn

log = structlog.get_logger(__name__)


class WorkerDied(Exception):
    """The worker ended (killed, crashed, or shut down) before answering."""


@dataclass
class WorkerFigures:
    """What the pool knows of a worker from its last report."""

    stats: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    rooms: dict[str, list[str]] = field(default_factory=dict)
    recording: list[str] = field(default_factory=list)
    received_at: float = 0.0
    """``time.monotonic()`` when the report arrived."""
    cpu_load: float = 0.0
    """CPU-seconds per second between the last two reports (1.0: one core busy)."""


class WorkerProcess:
    """One running worker. ``on_exit(worker)`` is called once when it ends (not on close)."""

    def __init__(
        self,
        index: int,
        command: Sequence[str],
        init: ipc.Init,
        *,
        on_exit: Callable[[WorkerProcess], None],
        on_room_closed: Callable[[WorkerProcess, str], None],
        on_report: Callable[[WorkerProcess], None] | None = None,
        on_recording_failed: Callable[[WorkerProcess, str, str], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.index = index
        self._command = list(command)
        self._init = init
        self._env = env
        self._on_exit = on_exit
        self._on_room_closed = on_room_closed
        self._on_report = on_report
        self._on_recording_failed = on_recording_failed
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready: asyncio.Future[ipc.Ready] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.figures = WorkerFigures()
        self.unavailable_reason: str | None = None
        self.event_loop = ""
        self.alive = False
        self.closing = False
        self._ended = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self, timeout_s: float) -> None:
        """Spawn the worker and wait for its Ready (raises WorkerDied when it never comes)."""
        parent_end, child_end = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self._command,
                str(child_end.fileno()),
                pass_fds=[child_end.fileno()],
                env=self._env,
            )
        finally:
            child_end.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent_end)
        self._writer = writer
        self._ready = asyncio.get_running_loop().create_future()
        writer.write(ipc.encode(self._init))
        spawn(self._tasks, self._read_forever(reader), f"worker-read:{self.index}")
        spawn(self._tasks, self._watch_exit(), f"worker-exit:{self.index}")
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), timeout_s)
        except TimeoutError:
            await self.kill()
            raise WorkerDied(
                f"relay worker {self.index} did not start in {timeout_s:.0f} s"
            ) from None
        self.unavailable_reason = ready.unavailable_reason
        self.event_loop = ready.event_loop
        self.alive = True
        log.info("relay.worker_started", worker=self.index, pid=ready.pid, loop=ready.event_loop)

    async def call(
        self, method: str, session_id: str, args: list[Any], ice: list[ipc.IceServer]
    ) -> Any:
        """Run the manager's ``method`` for the session in the worker; its return value.

        Raises WorkerDied, or a ``ipc.Failure`` as :class:`CallFailed`."""
        if not self.alive or self._writer is None:
            raise WorkerDied(f"relay worker {self.index} is not running")
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            self._writer.write(ipc.encode(ipc.Call(call_id, method, session_id, args, ice)))
            await self._writer.drain()
            return await future
        except ConnectionError as exc:
            raise WorkerDied(f"relay worker {self.index} stopped") from exc
        finally:
            self._pending.pop(call_id, None)

    async def _read_forever(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                self._dispatch(await ipc.read_from_worker(reader))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ipc.FrameError as exc:
            log.error("relay.worker_bad_frame", worker=self.index, detail=str(exc))
        self._end("its connection closed")

    def _dispatch(self, message: ipc.FromWorker) -> None:
        if isinstance(message, ipc.Result | ipc.Failure):
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                if isinstance(message, ipc.Result):
                    future.set_result(message.value)
                else:
                    future.set_exception(CallFailed(message.kind, message.message))
        elif isinstance(message, ipc.Report):
            now = time.monotonic()
            previous = self.figures
            elapsed = now - previous.received_at
            load = (
                max(0.0, (message.cpu_seconds - previous.cpu_seconds) / elapsed)
                if previous.received_at and elapsed > 0
                else 0.0
            )
            self.figures = WorkerFigures(
                message.stats,
                message.cpu_seconds,
                message.rss_bytes,
                message.rooms,
                message.recording,
                now,
                load,
            )
            if self._on_report is not None:
                self._on_report(self)
        elif isinstance(message, ipc.RoomClosed):
            self._on_room_closed(self, message.session_id)
        elif isinstance(message, ipc.RecordingFailed):
            if self._on_recording_failed is not None:
                self._on_recording_failed(self, message.session_id, message.reason)
        elif self._ready is not None and not self._ready.done():
            self._ready.set_result(message)

    async def _watch_exit(self) -> None:
        assert self.process is not None
        code = await self.process.wait()
        self._end(f"the process exited with {code}")

    def _end(self, why: str) -> None:
        """The worker is gone: fail what waits on it and tell the pool (once)."""
        if self._ended:
            return
        self._ended = True
        was_alive = self.alive
        self.alive = False
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerDied(f"relay worker {self.index} stopped ({why})"))
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(WorkerDied(f"relay worker {self.index} stopped ({why})"))
            self._ready.exception()  # retrieved here: start() may have given up already
        if self._writer is not None:
            self._writer.close()
        if not self.closing:
            log.error("relay.worker_died", worker=self.index, pid=self.pid, why=why)
            if was_alive:
                self._on_exit(self)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Shut the worker down: closing its socket makes it close its calls and exit."""
        self.closing = True
        self.alive = False
        if self._writer is not None:
            self._writer.close()
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout_s)
            except TimeoutError:
                log.warning("relay.worker_kill", worker=self.index, pid=self.pid)
                await self.kill()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


class CallFailed(Exception):
    """The worker's manager raised: ``kind`` names the :mod:`relay.errors` class."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def worker_environment(project_root: str) -> dict[str, str]:
    """The parent's environment with the project importable (``python -m relay.worker``)."""
    env = dict(os.environ)
    paths = [project_root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
