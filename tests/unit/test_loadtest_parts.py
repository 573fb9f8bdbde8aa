"""The load tester's pure parts: percentiles, /metrics parsing, pacing of paths, synthetic
media, options and the report files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from loadtest.api import ApiUser
from loadtest.cli import add_arguments, options_from_args
from loadtest.media import SyntheticAudioTrack, SyntheticVideoTrack
from loadtest.options import Options
from loadtest.peer import MediaOptions, Peer
from loadtest.report import (
    Report,
    distribution,
    html_report,
    parse_metrics,
    percentile,
    summarize,
    summary_table,
    write_reports,
)
from loadtest.runner import loopback_candidates, peer_record, spread_paths
from loadtest.workers import merge_timelines, split


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 95) == 95.05
    assert percentile(values, 99) == 99.01
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_distribution_ignores_missing_values() -> None:
    d = distribution([10.0, None, 30.0])
    assert d["count"] == 2
    assert d["mean"] == 20.0
    assert d["p50"] == 20.0
    assert d["max"] == 30.0
    assert distribution([None])["p95"] is None


def test_prometheus_text_is_read_and_label_sets_summed() -> None:
    text = """# HELP process_cpu_seconds_total Total user and system CPU time.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 1.048576e+08
panamia_hub_connections 4.0
panamia_relay_streams{node="a"} 2.0
panamia_relay_streams{node="b",x="}"} 3.0
broken_line
"""
    values = parse_metrics(text)
    assert values["process_cpu_seconds_total"] == 12.5
    assert values["process_resident_memory_bytes"] == 104857600.0
    assert values["panamia_hub_connections"] == 4.0
    assert values["panamia_relay_streams"] == 5.0
    assert "broken_line" not in values


@pytest.mark.parametrize(("direct", "relay"), [(3, 3), (5, 1), (0, 2), (4, 0), (7, 3)])
def test_relay_sessions_are_spread_among_direct_ones(direct: int, relay: int) -> None:
    paths = spread_paths(direct, relay)
    assert paths.count("relay") == relay
    assert paths.count("direct") == direct
    if relay and direct:
        first_relay = paths.index("relay")
        assert first_relay <= len(paths) // relay  # not all bunched at the end


async def test_synthetic_video_has_the_asked_size_rate_and_motion() -> None:
    track = SyntheticVideoTrack(160, 120, 30)
    started = time.monotonic()
    frames = [await track.recv() for _ in range(16)]
    elapsed = time.monotonic() - started
    assert all(isinstance(f, av.VideoFrame) for f in frames)
    assert {(f.width, f.height) for f in frames} == {(160, 120)}
    assert [f.pts for f in frames[:3]] == [0, 3000, 6000]  # 90 kHz clock at 30 fps
    assert bytes(frames[0].planes[0]) != bytes(frames[5].planes[0])  # the bar moves
    assert elapsed >= 15 / 30 * 0.9  # paced by the wall clock, not as fast as possible
    track.stop()


async def test_synthetic_audio_is_20ms_of_48khz_tone() -> None:
    track = SyntheticAudioTrack()
    first, second = await track.recv(), await track.recv()
    assert (first.sample_rate, first.samples) == (48000, 960)
    assert (first.pts, second.pts) == (0, 960)
    assert any(bytes(first.planes[0]))  # a tone, not silence
    track.stop()


def test_options_are_checked() -> None:
    Options(url="http://127.0.0.1:1").validate()
    with pytest.raises(ValueError, match="url"):
        Options(url="ftp://x").validate()
    with pytest.raises(ValueError, match="at least one session"):
        Options(url="http://x", sessions=0).validate()
    with pytest.raises(ValueError, match="width"):
        Options(url="http://x", width=161).validate()
    assert Options(url="http://x", token="s3cret").public_dict()["token"] == "set"


def test_command_line_builds_options(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv("LT_TOKEN", "operator-token")
    args = parser.parse_args(
        ["--url", "http://h:9", "--sessions", "4", "--relay-sessions", "2", "--video",
         "640x480", "--fps", "30", "--hold", "7", "--token-env", "LT_TOKEN",
         "--loopback-candidates", "--no-audio"]
    )  # fmt: skip
    options = options_from_args(args)
    assert (options.url, options.sessions, options.relay_sessions) == ("http://h:9", 4, 2)
    assert (options.width, options.height, options.fps, options.hold_s) == (640, 480, 30, 7.0)
    assert options.token == "operator-token"
    assert options.loopback_candidates and not options.audio
    with pytest.raises(SystemExit):
        parser.parse_args(["--video", "640by480"])


def test_loopback_patch_is_undone_afterwards() -> None:
    import aioice.ice

    original = aioice.ice.get_host_addresses
    with loopback_candidates():
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses is original


def _report() -> Report:
    report = Report(runId="abc", url="http://h", options={"fps": 15}, startedAt="now")
    for index, (path, join) in enumerate([("direct", 300.0), ("relay", 650.0), ("direct", None)]):
        peer = {
            "role": "mentor", "email": "m@x", "wsConnectedMs": 5.0, "subscribedMs": 20.0,
            "iceConnectedMs": 100.0 if join else None, "firstFrameMs": join, "fps": 14.5,
            "bitrateKbps": 200.0, "packetLossPct": 0.0, "jitterMs": 1.0,
            "framesReceived": 100, "packetsReceived": 300, "packetsLost": 0, "failure": None,
        }  # fmt: skip
        report.sessions.append(
            {"index": index, "sessionId": f"s{index}", "path": path, "success": join is not None,
             "reason": "" if join else "mentee: ICE not connected within 20 s", "setupMs": 50.0,
             "wsConnectedMs": 5.0, "subscribedMs": 20.0, "iceConnectedMs": peer["iceConnectedMs"],
             "firstFrameMs": join, "fps": 14.5, "bitrateKbps": 200.0, "packetLossPct": 0.0,
             "jitterMs": 1.0, "packetsReceived": 600, "packetsLost": 0, "peers": [peer, peer]}
        )  # fmt: skip
    report.timeline = [
        {"t": float(t), "startedSessions": 3, "activeSessions": 2, "meanFps": 14.0,
         "minFps": 12.0, "totalKbps": 800.0}
        for t in range(5)
    ]  # fmt: skip
    report.server = [
        {"t": float(t), "cpuPercent": 30.0 + t, "connections": 4, "relayStreams": 2}
        for t in range(5)
    ]
    report.summary = summarize(report)
    return report


def test_summary_counts_paths_failures_and_percentiles() -> None:
    summary = _report().summary
    assert summary["sessions"] == {
        "total": 3, "succeeded": 2, "failed": 1, "direct": 2, "directSucceeded": 1,
        "relay": 1, "relaySucceeded": 1, "atFullFrameRate": 2,
    }  # fmt: skip
    assert summary["failures"] == {"mentee: ICE not connected within 20 s": 1}
    assert summary["joinMs"]["p50"] == 475.0
    assert summary["maxConcurrent"] == 2
    assert summary["server"]["peakCpuPercent"] == 34.0
    table = summary_table(_report())
    assert "first remote frame ms" in table and "failed x1" in table


def test_reports_are_written_and_html_is_self_contained(tmp_path: Path) -> None:
    json_path, html_path = write_reports(_report(), str(tmp_path / "out"))
    data = json.loads(json_path.read_text())
    assert data["runId"] == "abc" and len(data["sessions"]) == 3
    page = html_path.read_text()
    assert page.count("<svg") == 6
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert html_report(_report()).startswith("<!doctype html>")


async def test_a_peer_that_never_joined_reports_empty_figures() -> None:
    async with aiohttp.ClientSession() as http:
        user = ApiUser("e@loadtest.invalid", http, "http://127.0.0.1:9")
        media = MediaOptions(160, 120, 15, audio=True)
        peer = Peer(
            user=user, role="mentee", session_id="s1", path="direct", pusher_key="k",
            ice_servers=[], media=media,
        )  # fmt: skip
        record = peer_record(peer)
        assert peer.polite
        assert record["firstFrameMs"] is None and record["fps"] is None
        assert record["packetLossPct"] is None and record["jitterMs"] is None
        assert await peer.sample() is None
        await peer.leave()


def test_worker_timelines_merge_slot_by_slot() -> None:
    def row(t: float, active: int, fps: float | None) -> dict[str, Any]:
        return {"t": t, "loadtestCpuPercent": 50.0, "startedSessions": active,
                "activeSessions": active, "meanFps": fps, "minFps": fps,
                "totalKbps": None if fps is None else 100.0}  # fmt: skip

    first = [row(1.0, 1, None), row(2.01, 2, 15.0), row(2.4, 3, 15.0), row(3.0, 3, 15.0)]
    second = [row(1.1, 1, None), row(3.1, 2, 12.0)]  # no sample near t=2
    merged = merge_timelines([first, second], 1.0)
    assert [m["t"] for m in merged] == [1.0, 2.0, 3.0]
    assert [m["activeSessions"] for m in merged] == [2, 4, 5]  # latest row per worker
    assert merged[2]["meanFps"] == 13.8  # weighted by active sessions: (3*15 + 2*12) / 5
    assert merged[2]["minFps"] == 12.0 and merged[2]["totalKbps"] == 200.0
    assert merged[0]["meanFps"] is None


def test_sessions_are_shared_out_evenly() -> None:
    assert split(7, 3) == [3, 2, 2]
    assert split(2, 4) == [1, 1, 0, 0]
    assert sum(split(101, 8)) == 101
