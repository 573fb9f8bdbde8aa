"""bench.relay --cap on this machine: one small capped point of our relay (a real relay
process in a real cgroup), and the skip when no cgroup can be written."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bench import relay_capped
from bench.cgroup import CgroupUnavailable
from bench.media import encode_vp8_loop, loopback_only
from tests.support.cgroups import needs_cgroups


def _args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "cap": 0.5,
        "cfs_period_us": 10_000,
        "nice": 0,
        "warmup": 0.5,
        "window": 1.5,
        "janus_event_loops": 1,
        "against": [],
        "pin": False,
        "cap_guess": 2,
        "cap_max_streams": 2,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


@needs_cgroups
async def test_a_capped_point_of_ours_carries_its_streams_and_leaves_no_group() -> None:
    frames = encode_vp8_loop(frames=30)
    with loopback_only():
        point = await relay_capped.measure_capped("passthrough", 2, frames, _args(), pin=False)
    assert point.receiving == 2
    assert point.cap == 0.5
    assert point.per_worker[0].throttled is not None  # the cap's counters were read
    assert point.per_worker[0].cpu_per_s > 0
    # The run's group is gone and this process is back where it was.
    assert not any(Path("/sys/fs/cgroup/cpu").glob(f"panamia-bench-{os.getpid()}*"))
    assert "panamia-bench" not in Path("/proc/self/cgroup").read_text()


async def test_without_cgroups_the_capped_run_says_so_and_skips(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise CgroupUnavailable("no cgroup v1 cpu controller at /nowhere")

    monkeypatch.setattr(relay_capped, "open_cpu_caps", unavailable)
    result = await relay_capped.run(_args())
    assert "no cgroup v1 cpu controller" in result["skipped"]
    assert "cgroups are not writable" in capsys.readouterr().out
