"""The event loop a relay process runs on (``relay.event_loop``).

A relay spends a large share of its CPU receiving and sending datagrams. asyncio's own
datagram transport does that in Python (one selector wake-up, one ``recvfrom`` and a
handful of Python calls per datagram); uvloop's is libuv's, in C, and costs a fraction of
it per packet. aioice and aiortc only use the public loop and transport API, and the relay's
fast path (:mod:`relay.fastpath`) relies on two things both transports do: they call
``protocol.datagram_received`` by attribute on every datagram, and ``transport.sendto``
sends at once when nothing is queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")
EventLoopName = Literal["uvloop", "asyncio"]
Runner = Callable[[Coroutine[Any, Any, T]], T]


def runner(choice: str) -> tuple[Runner[Any], EventLoopName]:
    """The function that runs a coroutine on a new loop of ``choice``, and the loop's name.

    ``"uvloop"`` falls back to asyncio (with a warning) where uvloop is not installed.
    """
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("relay.uvloop_missing", fallback="asyncio")
        else:
            return uvloop.run, "uvloop"
    return asyncio.run, "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str) -> T:
    """Run ``main`` to completion on a new event loop of ``choice``."""
    run_on_loop, _name = runner(choice)
    result: T = run_on_loop(main)
    return result


def running_loop_name() -> str:
    """The running loop's package: ``"uvloop"`` or ``"asyncio"``."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]
