"""Several load-generating processes, one report.

One event loop can only drive so many aiortc peers (each encodes and decodes its streams),
so a bigger run spreads its sessions over worker processes: each runs ``python -m loadtest``
with its share of the sessions and of the ramp rate, without sampling /metrics; the parent
samples /metrics once for all, shows progress, and merges the workers' reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from loadtest.options import Options
from loadtest.report import Report, summarize
from loadtest.runner import Runner

WORKER_TOKEN_ENV = "PANAMIA_LOADTEST_WORKER_TOKEN"  # noqa: S105 - a variable name
"""The token reaches the workers through their environment, never their command line."""


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as possible, larger shares first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def worker_args(options: Options, index: int, direct: int, relay: int, out_dir: str) -> list[str]:
    share = (direct + relay) / options.total_sessions
    args = [
        sys.executable, "-m", "loadtest",
        "--url", options.url,
        "--sessions", str(direct),
        "--relay-sessions", str(relay),
        "--ramp", f"{options.ramp_per_s * share:.6f}",
        "--hold", str(options.hold_s),
        "--video", f"{options.width}x{options.height}",
        "--fps", str(options.fps),
        "--media", options.media,
        "--audio-packet-ms", str(options.audio_packet_ms),
        "--processes", "1",
        "--token-env", WORKER_TOKEN_ENV,
        "--pusher-key", options.pusher_key,
        "--connect-timeout", str(options.connect_timeout_s),
        "--max-duration", str(options.max_duration_s),
        "--sample-interval", str(options.sample_interval_s),
        "--output", out_dir,
        "--run-id", f"{options.run_id}w{index}",
        "--quiet",
        "--no-metrics",
    ]  # fmt: skip
    if not options.audio:
        args.append("--no-audio")
    if options.loopback_candidates:
        args.append("--loopback-candidates")
    return args


async def run_in_processes(options: Options, out: TextIO) -> Report:
    options = replace(options, run_id=options.run_id or secrets.token_hex(3))
    sampler = Runner(replace(options, processes=1), out)  # samples /metrics, runs no peers
    sampler.run_id = options.run_id
    parts = min(options.process_count, options.total_sessions)
    directs, relays = split(options.sessions, parts), split(options.relay_sessions, parts)
    env = {**os.environ, WORKER_TOKEN_ENV: options.token}
    with tempfile.TemporaryDirectory(prefix="panamia-loadtest-") as scratch:
        folders = [str(Path(scratch) / f"w{i}") for i in range(parts)]
        sampler.start_clock()
        scrape = asyncio.create_task(sampler.scrape_loop())
        progress = asyncio.create_task(_progress(sampler, out, parts)) if options.progress else None
        procs = [
            await asyncio.create_subprocess_exec(
                *worker_args(options, i, directs[i], relays[i], folders[i]),
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            for i in range(parts)
        ]
        grace = options.max_duration_s + 60
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(p.communicate() for p in procs)), grace
            )
        except TimeoutError:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            results = [(b"", b"worker did not finish in time")] * parts
        finally:
            sampler.stop_event.set()
            for task in (scrape, progress):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if progress is not None and out.isatty():
                out.write("\n")
        reports: list[dict[str, Any]] = []
        errors: list[str] = []
        for i, folder in enumerate(folders):
            path = Path(folder) / "report.json"
            if path.exists():
                reports.append(json.loads(path.read_text(encoding="utf-8")))
            else:
                tail = results[i][1].decode(errors="replace").strip().splitlines()[-3:]
                errors.append(f"worker {i} wrote no report: {' | '.join(tail)}")
    return merge(options, reports, sampler.report.server, errors, sampler.started)


async def _progress(sampler: Runner, out: TextIO, parts: int) -> None:
    """Workers are quiet; the parent reports what the server sees."""
    period = 1.0 if out.isatty() else 10.0
    while True:
        await asyncio.sleep(period)
        last = sampler.report.server[-1] if sampler.report.server else {}
        cpu = last.get("cpuPercent")
        line = (
            f"[{time.monotonic() - sampler.started:6.1f}s] {parts} workers; server: "
            f"connections {last.get('connections')} relay streams {last.get('relayStreams')} "
            f"cpu {'-' if cpu is None else f'{cpu:.0f}%'}"
        )
        out.write(f"\r\x1b[2K{line}" if out.isatty() else line + "\n")
        out.flush()


def merge(
    options: Options,
    reports: list[dict[str, Any]],
    server: list[dict[str, Any]],
    errors: list[str],
    started: float,
) -> Report:
    report = Report(
        runId=options.run_id,
        url=options.url.rstrip("/"),
        options=options.public_dict(),
        startedAt=min((r["startedAt"] for r in reports), default=_now()),
        finishedAt=max((r["finishedAt"] for r in reports), default=_now()),
        durationS=round(time.monotonic() - started, 1),
        server=server,
        errors=errors + [e for r in reports for e in r["errors"]],
    )
    for worker in reports:
        report.sessions.extend(worker["sessions"])
    for index, session in enumerate(report.sessions):
        session["index"] = index
    report.timeline = merge_timelines([r["timeline"] for r in reports], options.sample_interval_s)
    report.summary = summarize(report)
    return report


def merge_timelines(timelines: list[list[dict[str, Any]]], step: float) -> list[dict[str, Any]]:
    """Sum the workers' samples falling in the same ``step``-long slot."""
    slots: dict[int, dict[int, dict[str, Any]]] = {}
    for worker, timeline in enumerate(timelines):
        for row in timeline:  # a worker's later row in the same slot replaces its earlier one
            slots.setdefault(round(row["t"] / step), {})[worker] = row
    last_slot = {w: max(round(r["t"] / step) for r in tl) for w, tl in enumerate(timelines) if tl}
    latest: dict[int, dict[str, Any]] = {}
    merged = []
    for slot in sorted(slots):
        latest.update(slots[slot])  # a worker missing from a slot counts with its last row
        rows = [row for w, row in latest.items() if slot <= last_slot[w]]
        with_fps = [r for r in rows if r["meanFps"] is not None]
        weight = sum(r["activeSessions"] for r in with_fps)
        merged.append(
            {
                "t": round(slot * step, 2),
                "loadtestCpuPercent": round(sum(r["loadtestCpuPercent"] for r in rows), 1),
                "startedSessions": sum(r["startedSessions"] for r in rows),
                "activeSessions": sum(r["activeSessions"] for r in rows),
                "meanFps": round(
                    sum(r["meanFps"] * r["activeSessions"] for r in with_fps) / weight, 2
                )
                if weight
                else None,
                "minFps": min((r["minFps"] for r in with_fps), default=None),
                "totalKbps": round(sum(r["totalKbps"] for r in with_fps), 1) if with_fps else None,
                "loopLagMs": max((r.get("loopLagMs", 0.0) for r in rows), default=0.0),
            }
        )
    return merged


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
