"""relay.event_loop: which loop a relay process runs on, and the Init a worker reads first."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading

import pytest

from config.settings import RelaySettings
from relay import eventloop, ipc


def test_uvloop_is_the_default_and_runs_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert RelaySettings().event_loop == "uvloop"

    async def name() -> str:
        return eventloop.running_loop_name()

    assert eventloop.run(name(), "uvloop") == "uvloop"
    assert eventloop.run(name(), "asyncio") == "asyncio"


def test_without_uvloop_the_relay_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    run, name = eventloop.runner("uvloop")
    assert run is asyncio.run and name == "asyncio"


def test_an_unknown_event_loop_setting_is_refused() -> None:
    from config.loader import ConfigError, build_settings

    with pytest.raises(ConfigError, match=r"relay\.event_loop"):
        build_settings({"relay": {"event_loop": "trio"}})


def test_a_worker_reads_its_init_before_any_event_loop_exists() -> None:
    parent, child = socket.socketpair()
    init = ipc.Init(index=3, relay_settings={"event_loop": "asyncio"})
    frame = ipc.encode(init)
    # Sent in two pieces, the second late: the blocking read waits for the whole frame.
    parent.sendall(frame[:5])
    timer = threading.Timer(0.05, parent.sendall, (frame[5:],))
    timer.start()
    try:
        assert ipc.read_init(child) == init
    finally:
        timer.join()
        parent.close()
        child.close()


def test_a_worker_whose_parent_hangs_up_or_sends_a_call_first_stops() -> None:
    parent, child = socket.socketpair()
    parent.sendall(ipc.encode(ipc.Call(1, "answer", "s1")))
    with pytest.raises(ipc.FrameError, match="Init"):
        ipc.read_init(child)
    parent.close()
    with pytest.raises(EOFError):
        ipc.read_init(child)
    child.close()
