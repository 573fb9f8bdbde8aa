"""The worker scaling bench's parts on this machine: a real cgroup cap on a real busy
process, and one small point (two capped relay workers, two generator processes).

The cgroup tests skip when no cgroup with a CPU controller can be written here (not root, no
controller); the fallback without one runs everywhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from bench import relay_scaling
from bench.cgroup import V1_ROOT, CgroupUnavailable, open_cpu_caps
from bench.media import encode_vp8_loop, loopback_only
from bench.procstat import process_cpu_seconds
from bench.relay_scaling_point import Setup, measure_point
from tests.support.cgroups import needs_cgroups

BUSY = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass\n"


@needs_cgroups
def test_a_capped_process_gets_no_more_than_its_budget_and_the_group_goes_away() -> None:
    caps = open_cpu_caps(period_us=10_000)
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        caps.add("busy", busy.pid)
        caps.limit(0.1)
        started, cpu_before = time.monotonic(), process_cpu_seconds(busy.pid)
        time.sleep(1.0)
        used = process_cpu_seconds(busy.pid) - cpu_before
        elapsed = time.monotonic() - started
        # A tenth of a core; a loaded machine can only give it less. The bound is loose.
        assert used <= 0.5 * elapsed
        assert caps.throttling("busy").throttled_periods > 0
        if caps.version == 1:
            assert (caps.parent / "busy" / "cpu.cfs_quota_us").read_text().strip() == "1000"
    finally:
        busy.wait()
        caps.close()
    assert not caps.parent.exists()


@needs_cgroups
async def test_a_small_point_spreads_the_sessions_over_capped_workers(tmp_path: Path) -> None:
    frames_file = tmp_path / "frames.msgpack"
    frames = encode_vp8_loop(width=160, height=120, frames=10, bitrate=100_000)
    frames_file.write_bytes(msgspec.msgpack.encode(frames))
    setup = Setup(frames_file, 0.5, 10_000, 2, warmup=0.5, window=2.0, split_cores=True)
    with loopback_only():
        point = await measure_point(2, 4, setup)
    assert point.receiving == 4
    assert [w.sessions for w in point.per_worker] == [2, 2]
    assert all(w.throttled is not None for w in point.per_worker)
    assert all(w.cpu_per_s > 0 for w in point.per_worker)
    assert point.sent_fps > 0 and point.received_fps > 0
    assert point.generator_cpu_per_s > 0
    assert not (V1_ROOT / f"panamia-bench-{os.getpid()}").exists()  # the groups are removed


async def test_without_cgroups_the_bench_says_so_and_measures_uncapped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise CgroupUnavailable("no cgroup v1 cpu controller (test)")

    small = encode_vp8_loop(width=160, height=120, frames=10, bitrate=100_000)
    monkeypatch.setattr(relay_scaling, "open_cpu_caps", unavailable)
    monkeypatch.setattr(relay_scaling, "encode_vp8_loop", lambda: small)
    parser = argparse.ArgumentParser()
    relay_scaling.add_arguments(parser)
    args = parser.parse_args(["--worker-cpu", "0.25", "--start", "1", "--max-streams", "1"])
    args.workers, args.warmup, args.window, args.confirm = [1], 0.5, 1.5, 0
    await relay_scaling.run(args)
    out = capsys.readouterr().out
    assert "cannot cap the workers' CPU (no cgroup v1 cpu controller (test))" in out
    assert "1 worker(s), NO CAP (cgroups unavailable): 1 streams at full frame rate" in out
