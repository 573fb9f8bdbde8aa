"""A relay worker process: one :class:`~relay.manager.RelayManager` on its own event loop.

Started by :class:`relay.pool.WorkerPool` as ``python -m relay.worker FD`` (or through the
composition root's wrapper, which sets up logging first) with one end of a socket pair as
file descriptor ``FD``. It reads :class:`~relay.ipc.Init`, runs the compatibility self-check
(:meth:`RelayManager.start`), reports :class:`~relay.ipc.Ready`, then serves
:class:`~relay.ipc.Call` frames, each in its own task, until the socket closes: then it closes
every connection and exits. The web process closing the socket — on shutdown or because it
died — is thus always the end of the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import sys
from collections.abc import Callable

import msgspec
import structlog
from aiortc import RTCIceServer

from config.settings import RelaySettings
from relay import errors, eventloop, ipc, procstat
from relay.manager import RelayManager
from relay.tasks import spawn

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
    return tuple(
        RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers
    )


def _call_ice_servers() -> list[RTCIceServer]:
    return list(_ice_servers.get())


class WorkerServer:
    """Serves one parent connection: calls in, results, reports and room events out."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, init: ipc.Init
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._init = init
        settings = msgspec.convert(init.relay_settings, RelaySettings)
        self.manager = RelayManager(
            settings,
            _call_ice_servers,
            peer_timeout_s=init.peer_timeout_s,
            on_room_closed=self._room_closed,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def _send(self, message: ipc.FromWorker) -> None:
        if not self._writer.is_closing():
            self._writer.write(ipc.encode(message))

    def _room_closed(self, session_id: str) -> None:
        self._send(ipc.RoomClosed(session_id))

    async def run(self, event_loop: str) -> None:
        await self.manager.start()
        self._send(ipc.Ready(os.getpid(), self.manager.unavailable_reason, event_loop))
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
            await self.manager.close()
            self._writer.close()

    async def _serve(self, call: ipc.Call) -> None:
        if call.method not in WORKER_METHODS:
            self._send(ipc.Failure(call.id, "error", f"unknown relay command {call.method!r}"))
            return
        _ice_servers.set(_ice_from_wire(call.ice_servers))
        args = list(call.args)
        if call.method == "start_recording":  # a failed write is told to the web process
            session_id = call.session_id
            args = [*args[:1], lambda reason: self._send(ipc.RecordingFailed(session_id, reason))]
        try:
            result = getattr(self.manager, call.method)(call.session_id, *args)
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
            self._send(self.report())
            await asyncio.sleep(self._init.report_interval_s)

    def report(self) -> ipc.Report:
        return ipc.Report(
            stats=self.manager.stats(),
            cpu_seconds=procstat.cpu_seconds(),
            rss_bytes=procstat.rss_bytes(),
            rooms=self.manager.participants_by_session(),
            recording=[
                s for s in self.manager.participants_by_session() if self.manager.is_recording(s)
            ],
        )


def _plain_logging(level: str, _json: bool | None) -> None:
    """Without the app's set-up (``python -m relay.worker``): structlog's console output,
    filtered at ``level``; aiortc and aioice only from WARNING on."""
    numeric = logging.getLevelName(level.upper())
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(numeric))
    logging.basicConfig(level=max(numeric, logging.WARNING))


async def serve(sock: socket.socket, init: ipc.Init, setup_logging: LogSetup | None) -> None:
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
