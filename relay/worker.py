"""A relay worker process: one :class:`~relay.manager.RelayManager` on its own event loop.

Started by :class:`relay.pool.WorkerPool` as ``python -m relay.worker FD`` (or through the
composition root's wrapper, which sets up logging first) with one end of a socket pair as
file descriptor ``FD``. It reads :class:`~relay.ipc.Init`, runs the compatibility self-check
(:meth:`RelayManager.start`), reports :class:`~relay.ipc.Ready`, then serves
:class:`~relay.ipc.Call` frames, each in its own task, until the socket closes: then it closes
every connection and exits. The web process closing the socket — on shutdown or because it
died — is thus always the end of the worker.

An idle worker stays small: this module imports neither aiortc nor the relay's media code.
The manager (and with it aiortc, pyOpenSSL, libsrtp, aioice) is imported when the first call
arrives — or at start with ``relay.worker_preload`` — with PyAV deferred to its first real use
(:mod:`relay.lazy_av`), and the start-up self-check runs in a short-lived child interpreter
(:mod:`relay.selfcheck`). When the worker's last session has ended, it hands freed memory back
to the system (:func:`relay.memory.release`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
import structlog

from config.settings import RelaySettings
from relay import errors, eventloop, ipc, lazy_av, memory, procstat, selfcheck
from relay.counters import Counters, relay_stats
from relay.tasks import spawn

if TYPE_CHECKING:
    from aiortc import RTCIceServer

    from relay.manager import RelayManager

log = structlog.get_logger(__name__)

WORKER_METHODS = frozenset(
    {"answer", "leave", "end", "has_participant", "start_recording", "stop_recording"}
)
"""Manager methods the web process may call for a session. A new relay command (taking the
session id first) is one more name here and a one-line method on the pool."""

LogSetup = Callable[[str, "bool | None"], None]
"""Configures logging in the worker from ``(level, json)``, before anything is logged."""

_ice_servers: contextvars.ContextVar[tuple[RTCIceServer, ...]] = contextvars.ContextVar(
    "relay_worker_ice_servers", default=()
)
"""The ICE servers sent with the call being served: each call runs in its own task, so a
room created by an answer gets the credentials the web process minted for that call."""


def _ice_from_wire(servers: list[ipc.IceServer]) -> tuple[RTCIceServer, ...]:
    from aiortc import RTCIceServer  # loaded with the media stack (load_media_stack)

    return tuple(
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers
    )


def _call_ice_servers() -> list[RTCIceServer]:
    return list(_ice_servers.get())


IDLE_TICKS_BEFORE_RELEASE = 2
"""Reports (one a second by default) with no session left before freed memory is handed
back: the rooms' connections close in tasks of their own after the last one ends."""


def media_stack_imported() -> bool:
    """Whether aiortc is already imported here (a start-up wrapper may patch it first)."""
    return "aiortc" in sys.modules


def load_media_stack() -> type[RelayManager]:
    """Import the relay's manager and with it aiortc (PyAV deferred); its class."""
    lazy_av.defer()
    from relay.manager import RelayManager

    return RelayManager


class WorkerServer:
    """Serves one parent connection: calls in, results, reports and room events out."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, init: ipc.Init
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._init = init
        self.settings = msgspec.convert(init.relay_settings, RelaySettings)
        self.manager: RelayManager | None = None
        """Built by :meth:`_ensure_manager` (first call, or start with worker_preload)."""
        self._loading = asyncio.Lock()
        self._idle_ticks = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _ensure_manager(self) -> RelayManager:
        """The manager, importing the media stack and running its self-check the first time."""
        async with self._loading:
            if self.manager is None:
                started = time.perf_counter()
                manager_class = load_media_stack()
                manager = manager_class(
                    self.settings,
                    _call_ice_servers,
                    peer_timeout_s=self._init.peer_timeout_s,
                    on_room_closed=self._room_closed,
                )
                await manager.start()
                self.manager = manager
                log.info(
                    "relay.media_stack_loaded",
                    seconds=round(time.perf_counter() - started, 3),
                    rss_mb=round(procstat.rss_bytes() / 2**20, 1),
                )
            return self.manager

    async def _startup_check(self) -> str | None:
        """Why the relay cannot serve (None when it can), without loading the media stack
        unless it is wanted now or already imported."""
        if self.settings.worker_preload or media_stack_imported():
            return (await self._ensure_manager()).unavailable_reason
        return selfcheck.unavailable_reason(await selfcheck.check_in_child())

    def _send(self, message: ipc.FromWorker) -> None:
        if not self._writer.is_closing():
            self._writer.write(ipc.encode(message))

    def _room_closed(self, session_id: str) -> None:
        self._send(ipc.RoomClosed(session_id))

    async def run(self, event_loop: str) -> None:
        reason = await self._startup_check()
        self._send(ipc.Ready(os.getpid(), reason, event_loop))
        spawn(self._tasks, self._report_forever(), "worker-report")
        try:
            while True:
                message = await ipc.read_to_worker(self._reader)
                if isinstance(message, ipc.Call):
                    spawn(self._tasks, self._serve(message), f"worker-call:{message.method}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the web process closed its end: shut down
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self.manager is not None:
                await self.manager.close()
            self._writer.close()

    async def _serve(self, call: ipc.Call) -> None:
        if call.method not in WORKER_METHODS:
            self._send(ipc.Failure(call.id, "error", f"unknown relay command {call.method!r}"))
            return
        args = list(call.args)
        if call.method == "start_recording":  # a failed write is told to the web process
            session_id = call.session_id
            args = [*args[:1], lambda reason: self._send(ipc.RecordingFailed(session_id, reason))]
        try:
            manager = await self._ensure_manager()
            _ice_servers.set(_ice_from_wire(call.ice_servers))
            result = getattr(manager, call.method)(call.session_id, *args)
            if asyncio.iscoroutine(result):
                result = await result
        except errors.RelayError as exc:
            self._send(ipc.Failure(call.id, type(exc).__name__, str(exc)))
            return
        except Exception as exc:
            log.exception("relay.worker_call_failed", method=call.method)
            self._send(ipc.Failure(call.id, "error", type(exc).__name__))
            return
        try:
            self._send(ipc.Result(call.id, result))
        except (TypeError, NotImplementedError) as exc:  # a result that cannot cross: a bug
            log.exception("relay.worker_result_unsendable", method=call.method)
            self._send(ipc.Failure(call.id, "error", type(exc).__name__))
        with contextlib.suppress(ConnectionError):  # the web process went away: we stop soon
            await self._writer.drain()

    async def _report_forever(self) -> None:
        while True:
            self._release_when_idle()
            self._send(self.report())
            await asyncio.sleep(self._init.report_interval_s)

    def _release_when_idle(self) -> None:
        """Once per idle spell, a few reports after the last session: hand memory back."""
        if self.manager is None or self.manager.sessions():
            self._idle_ticks = 0
            return
        self._idle_ticks += 1
        if self._idle_ticks == IDLE_TICKS_BEFORE_RELEASE and self.manager.sessions_started:
            before = procstat.rss_bytes()
            memory.release()
            log.info(
                "relay.memory_released",
                rss_mb=round(procstat.rss_bytes() / 2**20, 1),
                freed_mb=round((before - procstat.rss_bytes()) / 2**20, 1),
            )

    def report(self) -> ipc.Report:
        manager = self.manager
        if manager is None:  # nothing imported yet, so nothing relayed
            return ipc.Report(
                stats={
                    **relay_stats(Counters(), max_sessions=self.settings.max_sessions),
                    ipc.MEDIA_STACK_FIGURE: media_stack_imported(),
                },
                cpu_seconds=procstat.cpu_seconds(),
                rss_bytes=procstat.rss_bytes(),
                rooms={},
                recording=[],
            )
        rooms = manager.participants_by_session()
        return ipc.Report(
            stats={**manager.stats(), ipc.MEDIA_STACK_FIGURE: media_stack_imported()},
            cpu_seconds=procstat.cpu_seconds(),
            rss_bytes=procstat.rss_bytes(),
            rooms=rooms,
            recording=[session for session in rooms if manager.is_recording(session)],
        )


def _plain_logging(level: str, _json: bool | None) -> None:
    """Without the app's set-up (``python -m relay.worker``): structlog's console output,
    filtered at ``level``; aiortc and aioice only from WARNING on."""
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(numeric))
    logging.basicConfig(level=max(numeric, logging.WARNING))


async def serve(sock: socket.socket, init: ipc.Init, setup_logging: LogSetup | None) -> None:
    lazy_av.defer()  # before anything can import aiortc (a no-op if a wrapper already did)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    (setup_logging or _plain_logging)(init.log_level, init.log_json)
    structlog.contextvars.bind_contextvars(relay_worker=init.index)
    await WorkerServer(reader, writer, init).run(eventloop.running_loop_name())


def main(argv: list[str] | None = None, setup_logging: LogSetup | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        raise SystemExit("usage: python -m relay.worker FD  (started by the relay's worker pool)")
    sock = socket.socket(fileno=int(args[0]))
    try:
        init = ipc.read_init(sock)
    except (EOFError, ConnectionError):
        return  # the web process went away before it said anything
    # --- event loop: relay.event_loop picks it, so Init is read before the loop exists ---
    choice = str(init.relay_settings.get("event_loop", "uvloop"))
    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(serve(sock, init, setup_logging), choice)
    # --- end event loop ---


if __name__ == "__main__":
    main()
