"""`panamia loadtest` against a live server: real sessions, real aiortc peers on both ends,
direct and through the media relay, and the report it writes."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aioice.ice
import pytest

from config.settings import Settings
from loadtest import Options, run_loadtest
from loadtest.cli import add_arguments, main_from_args
from tests.support.live_server import LOADTEST_TOKEN, live_server

REPORT_FIELDS = {
    "runId", "url", "options", "startedAt", "finishedAt", "durationS", "sessions", "summary",
    "timeline", "server", "errors",
}  # fmt: skip
TIMING_FIELDS = {"wsConnectedMs", "subscribedMs", "iceConnectedMs", "firstFrameMs"}
MEDIA_FIELDS = {"fps", "bitrateKbps", "packetLossPct", "jitterMs"}
SESSION_FIELDS = {
    "index", "sessionId", "path", "success", "reason", "setupMs", "packetsReceived",
    "packetsLost", "peers", *TIMING_FIELDS, *MEDIA_FIELDS,
}  # fmt: skip
PEER_FIELDS = {
    "role", "email", "framesReceived", "packetsReceived", "packetsLost", "failure",
    *TIMING_FIELDS, *MEDIA_FIELDS,
}  # fmt: skip
SERVER_FIELDS = {
    "t", "cpuPercent", "cpuSecondsTotal", "residentMemoryBytes", "connections", "channels",
    "messagesIn", "messagesOut", "clientEventsRejected", "relaySessions", "relayStreams",
    "bookings",
}  # fmt: skip
TIMELINE_FIELDS = {
    "t",
    "loopLagMs",
    "loadtestCpuPercent",
    "startedSessions",
    "activeSessions",
    "meanFps",
    "minFps",
    "totalKbps",
}
PERCENTILES = {"count", "mean", "min", "p50", "p95", "p99", "max"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc never offers 127.0.0.1; this machine's server and peers meet on loopback."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _missing(fields: set[str], row: dict[str, Any]) -> set[str]:
    return fields - row.keys()


@pytest.mark.timeout(90)
async def test_three_direct_and_three_relayed_sessions_all_succeed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    async with live_server(make_settings, auth={"loadtest_token": LOADTEST_TOKEN}) as (url, _):
        options = Options(
            url=url, sessions=3, relay_sessions=3, ramp_per_s=6, hold_s=5, width=160,
            height=120, fps=15, token=LOADTEST_TOKEN, connect_timeout_s=20,
            max_duration_s=60, output_dir=str(out), progress=False,
        )  # fmt: skip
        report = await run_loadtest(options)

    failures = [(s["path"], s["reason"]) for s in report.sessions if not s["success"]]
    assert failures == []
    data = json.loads((out / "report.json").read_text())
    # The default media: replayed clips out, frames counted from RTP (no decoding) in.
    assert data["options"]["media"] == "replay"
    assert data["summary"]["loadtest"]["media"] == "replay"
    assert data["summary"]["loadtest"]["loopLagMs"]["count"] > 0
    assert _missing(REPORT_FIELDS, data) == set()
    assert [s["path"] for s in data["sessions"]].count("relay") == 3
    for session in data["sessions"]:
        assert _missing(SESSION_FIELDS, session) == set()
        for field in ("setupMs", *TIMING_FIELDS, *MEDIA_FIELDS):
            assert session[field] is not None, (session["path"], field)
        assert session["packetsReceived"] > 0
        assert [p["role"] for p in session["peers"]] == ["mentor", "mentee"]
        for peer in session["peers"]:
            assert _missing(PEER_FIELDS, peer) == set()
            assert peer["framesReceived"] > 0 and peer["fps"] > 0 and peer["failure"] is None
            assert peer["wsConnectedMs"] <= peer["subscribedMs"] <= peer["iceConnectedMs"]
            assert peer["iceConnectedMs"] <= peer["firstFrameMs"]
    summary = data["summary"]
    assert summary["sessions"]["succeeded"] == 6
    assert summary["sessions"]["relaySucceeded"] == 3
    assert summary["maxConcurrent"] == 6
    for name in TIMING_FIELDS:
        assert set(summary["timings"][name]) == PERCENTILES
        assert summary["timings"][name]["count"] == 12
    assert data["timeline"] and _missing(TIMELINE_FIELDS, data["timeline"][0]) == set()
    samples = data["server"]
    assert samples and all(_missing(SERVER_FIELDS, s) == set() for s in samples)
    assert any(s["cpuPercent"] is not None for s in samples)
    assert max(s["connections"] or 0 for s in samples) >= 12  # two websockets a session
    assert max(s["relayStreams"] or 0 for s in samples) >= 1
    assert max(s["bookings"] or 0 for s in samples) >= 6
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 5


@pytest.mark.timeout(60)
async def test_command_line_run_with_development_sign_in_and_synthetic_media(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    async with live_server(make_settings) as (url, _):
        args = parser.parse_args(
            ["--url", url, "--sessions", "1", "--hold", "1", "--video", "160x120", "--fps",
             "10", "--output", str(tmp_path), "--quiet", "--token-env", "UNSET_LOADTEST_TOKEN",
             "--media", "synthetic"]
        )  # fmt: skip
        # The command runs its own event loop, as it does from a shell.
        code = await asyncio.to_thread(main_from_args, args)
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "first remote frame ms" in printed and "succeeded 1" in printed
    assert "(synthetic media)" in printed
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["sessions"][0]["success"] is True
    assert data["sessions"][0]["peers"][0]["framesReceived"] > 0
    assert (tmp_path / "report.html").exists()


@pytest.mark.timeout(60)
async def test_a_session_that_cannot_connect_fails_with_its_reason(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The wrong Pusher key: the hub refuses the websocket and the run says so, in time."""
    async with live_server(make_settings) as (url, _):
        options = Options(
            url=url, sessions=1, hold_s=0, width=160, height=120, fps=10,
            pusher_key="not-the-key", connect_timeout_s=5, max_duration_s=30, progress=False,
        )  # fmt: skip
        report = await run_loadtest(options)
    (session,) = report.sessions
    assert session["success"] is False
    assert session["reason"].startswith(("mentor:", "mentee:"))
    assert "websocket" in session["reason"] or "hub" in session["reason"]
    assert report.summary["failures"] == {session["reason"]: 1}
