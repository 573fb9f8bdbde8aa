"""The worker scaling bench's search and its verdict on a point (no processes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bench.cgroup import CgroupUnavailable, Throttling, open_cpu_caps
from bench.relay_scaling import largest_passing
from bench.relay_scaling_point import ScalingPoint, WorkerShare


def _prober(threshold: int) -> tuple[list[int], Callable[[int], Awaitable[bool]]]:
    tried: list[int] = []

    async def probe(count: int) -> bool:
        tried.append(count)
        return count <= threshold

    return tried, probe


@pytest.mark.parametrize(("threshold", "guess"), [(37, 16), (37, 80), (5, 16), (120, 8), (1, 4)])
async def test_the_search_brackets_the_largest_count_within_its_resolution(
    threshold: int, guess: int
) -> None:
    tried, probe = _prober(threshold)
    found = await largest_passing(probe, guess, resolution=0.1)
    assert found <= threshold
    assert threshold - found <= max(1, int(found * 0.1))
    assert len(tried) <= 12  # each probe is a full measurement: few of them
    assert threshold + 1 in tried or any(count > threshold for count in tried)


async def test_the_search_stops_at_its_limit_and_says_zero_when_nothing_passes() -> None:
    _, everything = _prober(10_000)
    assert await largest_passing(everything, 16, limit=50) == 50
    _, nothing = _prober(0)
    assert await largest_passing(nothing, 16) == 0


def _point(received_fps: float, worst: float, throttled: float | None) -> ScalingPoint:
    return ScalingPoint(
        workers=1,
        streams=10,
        receiving=10,
        per_worker=[WorkerShare(10, 20, 0.25, throttled)],
        sent_fps=30.0,
        received_fps=received_fps,
        worst_share=worst,
        generator_cpu_per_s=0.5,
        web_cpu_per_s=0.01,
        cap=0.25,
    )


def test_full_rate_is_95_percent_of_the_sent_frames_and_a_miss_names_its_cause() -> None:
    assert _point(29.0, 0.93, 0.2).verdict == "yes"
    assert _point(28.0, 0.93, 0.2).full_rate is False  # 93 % delivered
    assert _point(29.0, 0.85, 0.2).full_rate is False  # one stream starved
    assert _point(20.0, 0.5, 0.9).verdict == "no: worker at its cap"
    assert _point(20.0, 0.5, 0.1).verdict.startswith("no: not at the cap")
    starved = _point(20.0, 0.5, 0.1)
    starved.sent_fps = 26.0
    assert starved.verdict == "no: generator starved (sent 26.0 fps)"


def test_throttling_is_the_share_of_periods_in_which_the_cap_was_hit() -> None:
    assert Throttling(200, 150, 1.0).since(Throttling(100, 100, 0.5)) == 0.5
    assert Throttling(100, 100, 0.5).since(Throttling(100, 100, 0.5)) == 0.0


def test_without_a_writable_cpu_controller_opening_a_cap_says_why(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(CgroupUnavailable) as raised:
        open_cpu_caps(v1_root=tmp_path / "none", mounts=mounts)
    assert "no cgroup v1 cpu controller" in str(raised.value)
    assert "no cgroup v2 mount" in str(raised.value)
