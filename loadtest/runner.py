"""One load-test run: ramp up sessions, hold them, sample media and /metrics, stop, report.

Everything is bounded: each session's setup and join by timeouts, the whole run by
``max_duration_s``; leaving is bounded too, so the run always ends by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import aiohttp
import structlog

from loadtest import api
from loadtest.api import ApiError, ApiUser
from loadtest.loop_lag import LagProbe
from loadtest.options import Options
from loadtest.peer import MediaOptions, Path, Peer, PeerFailure
from loadtest.records import SessionRun, peer_record, session_record
from loadtest.report import (
    METRIC_FIELDS,
    Report,
    parse_metrics,
    summarize,
    summary_table,
    write_reports,
)

log = structlog.get_logger(__name__)

SETUP_TIMEOUT_S = 60.0
LEAVE_TIMEOUT_S = 15.0
STALL_LIMIT_S = 5.0
"""A joined session whose video stopped for this long counts as dropped."""


@contextlib.contextmanager
def loopback_candidates() -> Iterator[None]:
    """Make aiortc offer 127.0.0.1 as its only host candidate (it never offers loopback
    by itself), for single-machine runs against a server listening on loopback."""
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


def spread_paths(direct: int, relay: int) -> list[Path]:
    """Interleave relay sessions evenly among direct ones, so both ramp up together."""
    total = direct + relay
    paths: list[Path] = []
    for i in range(total):
        is_relay = (i + 1) * relay // total > i * relay // total
        paths.append("relay" if is_relay else "direct")
    return paths


class Runner:
    def __init__(self, options: Options, out: TextIO | None = None) -> None:
        options.validate()
        self.options = options
        self.base_url = options.url.rstrip("/")
        self.run_id = options.run_id or secrets.token_hex(3)
        self.out = out if out is not None else sys.stderr
        self.sessions: list[SessionRun] = []
        self.report = Report(
            runId=self.run_id,
            url=self.base_url,
            options=options.public_dict(),
            startedAt=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._t0 = 0.0
        self.stop_event = asyncio.Event()
        self._last_cpu: tuple[float, float] | None = None
        self._own_cpu = (time.monotonic(), time.process_time())
        self._lag = LagProbe()

    def start_clock(self) -> None:
        self._t0 = time.monotonic()

    @property
    def started(self) -> float:
        return self._t0

    def _t(self) -> float:
        return round(time.monotonic() - self._t0, 2)

    async def run(self) -> Report:
        options = self.options
        self.start_clock()
        deadline = self._t0 + options.max_duration_s
        background = [
            asyncio.create_task(self._every(self._sample_media)),
            asyncio.create_task(self._lag.run(self.stop_event)),
        ]
        if options.scrape_metrics:
            background.append(asyncio.create_task(self.scrape_loop()))
        if options.progress:
            background.append(asyncio.create_task(self._progress_loop()))
        joins: list[asyncio.Task[None]] = []
        try:
            for index, path in enumerate(spread_paths(options.sessions, options.relay_sessions)):
                if time.monotonic() >= deadline:
                    self.report.errors.append("max duration reached while ramping up")
                    break
                run = SessionRun(index=index, path=path)
                self.sessions.append(run)
                joins.append(asyncio.create_task(self._start_session(run)))
                if index + 1 < options.total_sessions:
                    await asyncio.sleep(1 / options.ramp_per_s)
            if joins:
                await asyncio.wait(joins, timeout=max(0.0, deadline - time.monotonic()))
            hold = min(options.hold_s, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(hold)
            self._final_check()
        finally:
            self.stop_event.set()
            for task in joins:
                task.cancel()
            await asyncio.gather(*joins, return_exceptions=True)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._leave_all()
        return self._finish()

    # --- sessions ------------------------------------------------------------------------
    async def _start_session(self, run: SessionRun) -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._setup(run), SETUP_TIMEOUT_S)
        except (ApiError, TimeoutError) as exc:
            run.fail(f"setup: {exc}" if str(exc) else "setup timed out")
            await self._leave(run)
            return
        run.setup_ms = round((time.monotonic() - started) * 1000, 1)
        try:
            await self._join(run)
        except PeerFailure as exc:
            run.fail(str(exc))
            await self._leave(run)
            return
        run.joined = True

    async def _setup(self, run: SessionRun) -> None:
        tag = f"lt-{self.run_id}-{run.index}"
        mentor, mentee = await asyncio.gather(
            api.sign_in(self.base_url, f"{tag}-mentor@loadtest.invalid", self.options.token),
            api.sign_in(self.base_url, f"{tag}-mentee@loadtest.invalid", self.options.token),
            return_exceptions=True,
        )
        run.users = [u for u in (mentor, mentee) if isinstance(u, ApiUser)]
        for result in (mentor, mentee):
            if isinstance(result, BaseException):
                raise result
        assert isinstance(mentor, ApiUser) and isinstance(mentee, ApiUser)
        await api.become_mentor(mentor)
        run.session_id = await api.book(mentee, mentor.email, f"Load test session {tag}")
        mentor_ice, mentee_ice = await asyncio.gather(
            api.ice_servers(mentor), api.ice_servers(mentee)
        )
        media = MediaOptions(
            self.options.width,
            self.options.height,
            self.options.fps,
            self.options.audio,
            self.options.media,
            self.options.audio_packet_ms,
        )
        common: dict[str, Any] = {
            "session_id": run.session_id,
            "path": run.path,
            "pusher_key": self.options.pusher_key,
            "media": media,
        }
        run.peers = [
            Peer(user=mentor, role="mentor", ice_servers=mentor_ice, **common),
            Peer(user=mentee, role="mentee", ice_servers=mentee_ice, **common),
        ]

    async def _join(self, run: SessionRun) -> None:
        tasks = {asyncio.create_task(peer.join()): peer for peer in run.peers}
        done, pending = await asyncio.wait(
            tasks, timeout=self.options.connect_timeout_s, return_when=asyncio.FIRST_EXCEPTION
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # Read every outcome (both sides may fail at once), then report the mentor's first.
        failures = [(tasks[t], t.exception()) for t in done]
        for peer, exc in sorted(failures, key=lambda f: f[0].role != "mentor"):
            if isinstance(exc, PeerFailure):
                raise PeerFailure(f"{peer.role}: {exc}")
            if exc is not None:
                raise PeerFailure(f"{peer.role}: {type(exc).__name__}: {exc}") from exc
        if pending:
            slowest = min(pending, key=lambda t: _stage_rank(tasks[t]))
            peer = tasks[slowest]
            raise PeerFailure(
                f"{peer.role}: {_stage(peer)} within {self.options.connect_timeout_s:g} s"
            )

    def _final_check(self) -> None:
        """At the end of the hold, a session counts only if media still flows both ways."""
        now = time.monotonic()
        for run in self.sessions:
            if not run.active:
                continue
            for peer in run.peers:
                reason = peer.failed
                if reason is not None:
                    run.fail(f"{peer.role}: dropped during hold: {reason}")
                elif peer.stalled(now, STALL_LIMIT_S):
                    run.fail(f"{peer.role}: no video for {STALL_LIMIT_S:g} s during hold")

    async def _leave(self, run: SessionRun) -> None:
        if run.left:
            return
        run.left = True
        run.peer_records = [peer_record(p) for p in run.peers]
        for coro in [p.leave() for p in run.peers] + [u.close() for u in run.users]:
            with contextlib.suppress(Exception):
                await coro

    async def _leave_all(self) -> None:
        pending = [self._leave(run) for run in self.sessions if not run.left]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*pending, return_exceptions=True), LEAVE_TIMEOUT_S
                )

    # --- sampling ------------------------------------------------------------------------
    async def _every(self, step: Callable[[], Any]) -> None:
        while not self.stop_event.is_set():
            await asyncio.sleep(self.options.sample_interval_s)
            await step()

    async def _sample_media(self) -> None:
        fps: list[float] = []
        kbps = 0.0
        now = time.monotonic()
        for run in self.sessions:
            if not run.active:
                continue
            for peer in run.peers:
                reason = peer.failed
                if reason is not None:
                    run.fail(f"{peer.role}: dropped during hold: {reason}")
                    break
                if peer.stalled(now, STALL_LIMIT_S):
                    run.fail(f"{peer.role}: no video for {STALL_LIMIT_S:g} s during hold")
                    break
                try:
                    sample = await peer.sample()
                except Exception as exc:  # stats of a closing connection
                    log.debug("loadtest.sample_failed", error=repr(exc))
                    continue
                if sample is not None:
                    fps.append(sample.fps)
                    kbps += sample.kbps
        wall, cpu = time.monotonic(), time.process_time()
        own_cpu = 100 * (cpu - self._own_cpu[1]) / max(1e-6, wall - self._own_cpu[0])
        self._own_cpu = (wall, cpu)
        self.report.timeline.append(
            {
                "t": self._t(),
                "loadtestCpuPercent": round(own_cpu, 1),
                "startedSessions": len(self.sessions),
                "activeSessions": sum(1 for r in self.sessions if r.active),
                "meanFps": round(sum(fps) / len(fps), 2) if fps else None,
                "minFps": round(min(fps), 2) if fps else None,
                "totalKbps": round(kbps, 1) if fps else None,
                "loopLagMs": self._lag.take_worst_ms(),
            }
        )

    async def scrape_loop(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            await self._scrape(http)
            while not self.stop_event.is_set():
                await asyncio.sleep(self.options.sample_interval_s)
                if not await self._scrape(http):
                    return

    async def _scrape(self, http: aiohttp.ClientSession) -> bool:
        """One sample of /metrics; False when the server has none (then stop asking)."""
        try:
            async with http.get(f"{self.base_url}/metrics") as resp:
                if resp.status == 404:
                    self.report.errors.append("the server has no /metrics endpoint")
                    return False
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.report.errors.append(f"/metrics at {self._t()} s: {type(exc).__name__}")
            return True
        values = parse_metrics(text)
        sample: dict[str, Any] = {"t": self._t(), "cpuPercent": None}
        for metric, key in METRIC_FIELDS.items():
            sample[key] = values.get(metric)
        cpu = sample["cpuSecondsTotal"]
        now = time.monotonic()
        if cpu is not None:
            if self._last_cpu is not None and now > self._last_cpu[0]:
                busy = (cpu - self._last_cpu[1]) / (now - self._last_cpu[0])
                sample["cpuPercent"] = round(100 * busy, 1)
            self._last_cpu = (now, cpu)
        self.report.server.append(sample)
        return True

    # --- progress ------------------------------------------------------------------------
    def progress_line(self) -> str:
        joined = sum(1 for r in self.sessions if r.joined)
        failed = sum(1 for r in self.sessions if r.failure is not None)
        active = sum(1 for r in self.sessions if r.active)
        last = self.report.timeline[-1] if self.report.timeline else {}
        server = self.report.server[-1] if self.report.server else {}
        fps = last.get("meanFps")
        cpu = server.get("cpuPercent")
        return (
            f"[{self._t():6.1f}s] started {len(self.sessions)}/{self.options.total_sessions} "
            f"joined {joined} up {active} failed {failed} "
            f"fps {'-' if fps is None else f'{fps:.1f}'} "
            f"server cpu {'-' if cpu is None else f'{cpu:.0f}%'} "
            f"load-test cpu {last.get('loadtestCpuPercent', 0):.0f}%"
        )

    async def _progress_loop(self) -> None:
        tty = self.out.isatty()
        period = 1.0 if tty else 10.0
        try:
            while not self.stop_event.is_set():
                await asyncio.sleep(period)
                if tty:
                    self.out.write("\r\x1b[2K" + self.progress_line())
                else:
                    self.out.write(self.progress_line() + "\n")
                self.out.flush()
        finally:
            if tty:
                self.out.write("\n")
                self.out.flush()

    # --- result --------------------------------------------------------------------------
    def _finish(self) -> Report:
        report = self.report
        report.finishedAt = datetime.now(UTC).isoformat(timespec="seconds")
        report.durationS = round(time.monotonic() - self._t0, 1)
        report.sessions = [session_record(run) for run in self.sessions]
        report.summary = summarize(report)
        return report


def _stage(peer: Peer) -> str:
    t = peer.timings
    if t.ws_connected_ms is None:
        return "websocket not connected"
    if t.subscribed_ms is None:
        return "channels not subscribed"
    if t.ice_connected_ms is None:
        return "ICE not connected"
    return "no remote video frame"


def _stage_rank(peer: Peer) -> int:
    t = peer.timings
    return sum(1 for v in (t.ws_connected_ms, t.subscribed_ms, t.ice_connected_ms) if v is not None)


async def run_loadtest(options: Options, out: TextIO | None = None) -> Report:
    """Run a load test against ``options.url``; write report files when asked to."""
    if options.process_count > 1:
        from loadtest.workers import run_in_processes

        report = await run_in_processes(options, out if out is not None else sys.stderr)
    else:
        runner = Runner(options, out)
        patch = loopback_candidates() if options.loopback_candidates else contextlib.nullcontext()
        with patch:
            report = await runner.run()
    if options.output_dir:
        write_reports(report, options.output_dir)
    return report


__all__ = ["Runner", "peer_record", "run_loadtest", "session_record", "summary_table"]
