"""PyAV deferred until its first real use (relay.lazy_av), in a fresh interpreter: this test
process has imported PyAV already, and a deferral only works before the first import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

SCRIPT = """
import sys
from relay import lazy_av

assert lazy_av.defer()
import aiortc  # imports av, av.frame, av.packet, ... at module level
import aiortc.codecs.vpx as vpx
import aiortc.rtcrtpreceiver as receiver

assert not lazy_av.is_loaded(), "importing aiortc loaded PyAV"
assert "libavcodec" not in open("/proc/self/maps").read()
frame_class = vpx.VideoFrame  # a stand-in until used

# First real use: calling a stand-in builds the real object.
frame = frame_class(width=16, height=16, format="yuv420p")
assert lazy_av.is_loaded()
import av

assert type(frame) is av.VideoFrame and isinstance(frame, frame_class)
# Module globals that held stand-ins now hold the real objects.
assert vpx.VideoFrame is av.VideoFrame and receiver.av is av
# A name read at run time from a module that imported the stand-in is real (except clauses).
try:
    raise av.FFmpegError(1, "test")
except receiver.av.FFmpegError:
    pass
print("ok")
"""


def test_pyav_loads_on_first_real_use_and_replaces_its_stand_ins() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_deferring_after_pyav_was_imported_changes_nothing() -> None:
    import av  # noqa: F401  (imported before the deferral is asked for)

    from relay import lazy_av

    assert lazy_av.defer() is False
    assert lazy_av.is_loaded()
