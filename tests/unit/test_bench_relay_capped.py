"""bench.relay --cap: its argument, its turn-taking searches and its summary (no servers)."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from bench.relay_capped import (
    Search,
    add_arguments,
    results,
    scaling_point,
    search_all,
    summarise,
)
from bench.relay_load import Point
from bench.relay_scaling_point import ScalingPoint


def _point(
    streams: int, *, received: float = 30.0, sent: float = 30.0, worst: float = 1.0
) -> Point:
    return Point(
        mode="passthrough",
        streams=streams,
        cpu_per_s=0.24,
        rss_mb=80.0,
        idle_rss_mb=60.0,
        hwm_mb=81.0,
        fps_mean=received,
        fps_min=received * worst,
        load_cpu_per_s=0.7,
        sent_fps=sent,
        worst_share=worst,
        receiving=streams,
    )


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_cap_is_optional_and_must_be_a_positive_share_of_a_core() -> None:
    assert _parse([]).cap is None
    assert _parse(["--cap", "0.25"]).cap == 0.25
    for bad in ("0", "-1", "a quarter"):
        with pytest.raises(SystemExit):
            _parse(["--cap", bad])


def test_a_point_is_judged_by_the_scaling_benchs_rule() -> None:
    assert scaling_point(_point(40), 0.25, 0.9).full_rate
    assert not scaling_point(_point(40, received=28.0), 0.25, 0.9).full_rate  # 93 %
    assert not scaling_point(_point(40, worst=0.85), 0.25, 0.9).full_rate
    at_cap = scaling_point(_point(80, received=20.0), 0.25, 0.9)
    assert at_cap.verdict == "no: worker at its cap"
    starved = scaling_point(_point(80, received=20.0, sent=22.0), 0.25, 0.1)
    starved.per_worker[0].cpu_per_s = 0.1
    assert "generator starved" in starved.verdict


def _fake(threshold: int, streams: int, cap: float = 0.25) -> ScalingPoint:
    return scaling_point(_point(streams, received=30.0 if streams <= threshold else 10.0), cap, 0.9)


async def test_the_searches_take_turns_and_the_summary_divides_by_the_cap() -> None:
    order: list[str] = []
    thresholds = {"passthrough": 74, "janus": 37}

    async def measure(mode: str, streams: int) -> ScalingPoint:
        order.append(mode)
        await asyncio.sleep(0)  # a real measurement waits on servers and streams
        return _fake(thresholds[mode], streams)

    searches = await search_all(["passthrough", "janus"], measure, 32, 200)
    assert 74 - searches["passthrough"].largest <= 7
    assert 37 - searches["janus"].largest <= 3
    # Alternate while both search: neither runs two probes in a row before the other ends.
    shorter = min(len(s.points) for s in searches.values())
    assert order[: 2 * shorter] == ["passthrough", "janus"] * shorter

    summary = summarise(searches, 0.25)
    ours = summary["passthrough"]
    assert ours["streams_per_core"] == searches["passthrough"].largest / 0.25
    assert summary["janus"]["ours_over_it"] == pytest.approx(
        searches["passthrough"].largest / searches["janus"].largest
    )
    assert ours["limited_by"] == "worker at its cap"


def test_a_search_that_never_failed_or_never_passed_says_so() -> None:
    unlimited = Search("passthrough", [_fake(500, 200)], 200)
    assert unlimited.limited_by == "not reached (search limit)"
    nothing = Search("janus", [_fake(0, 1)], 0)
    summary = summarise({"passthrough": unlimited, "janus": nothing}, 0.5)
    assert summary["passthrough"]["streams_per_core"] == 400
    assert summary["janus"]["ours_over_it"] is None


def test_the_results_are_plain_json() -> None:
    searches = {"passthrough": Search("passthrough", [_fake(74, 80)], 74)}
    written = json.loads(json.dumps(results(searches, summarise(searches, 0.25), 0.25)))
    assert written["summary"]["passthrough"]["streams_per_core"] == 296
    assert written["points"]["passthrough"][0]["per_worker"][0]["throttled"] == 0.9
