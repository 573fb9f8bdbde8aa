"""Soak: many real sessions for a long time against one embedded server, watching for leaks.

Starts its own server (``panamia serve``, embedded mode, in a child process), drives ``panamia
loadtest`` against it (30 direct and 20 relayed sessions for 10 minutes by default), and
samples the server's ``/metrics`` every few seconds: resident memory, open file descriptors,
asyncio tasks, relay peer connections and hub connections. It prints a table over time, the RSS
growth from the end of the warm-up to the end of the load, and the counts once the server is
idle again against the idle counts before the run (the baseline, measured in the same run): a
leak shows as counts that do not come back down.

    python -m bench.soak [--minutes 10] [--sessions 30] [--relay-sessions 20] [--every 10]
                         [--media replay|synthetic] [--audio-packet-ms 20|40|60]
                         [--processes N]

A short proof on a busy machine: ``python -m bench.soak --minutes 1 --sessions 2
--relay-sessions 2 --every 5``. Never fails on figures; exits non-zero only when the server or
the load test cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.ports import free_port, wait_for_port

FIGURES = {
    "rss_mb": "process_resident_memory_bytes",
    "fds": "process_open_fds",
    "tasks": "panamia_asyncio_tasks",
    "relay_peers": "panamia_relay_peer_connections",
    "hub_conns": "panamia_hub_connections",
    "workers_mb": "panamia_relay_worker_resident_memory_bytes",
    "cpu_s": "process_cpu_seconds_total",
    "workers_cpu_s": "panamia_relay_worker_cpu_seconds_total",
}
SUMMED = {"panamia_relay_worker_resident_memory_bytes", "panamia_relay_worker_cpu_seconds_total"}
"""Figures given per relay worker (label ``worker``): the soak adds them up."""
TOKEN_VARIABLE = "SOAK_LOADTEST_TOKEN"  # noqa: S105 - a variable name
"""Hands the server's loadtest token to ``panamia loadtest`` (not PANAMIA_*: the settings
loader would take it for a setting)."""
IDLE_TIMEOUT_S = 60.0
"""After the load test returns, how long to wait for the server to drop every connection."""


@dataclass
class Sample:
    t: float
    phase: str
    rss_mb: float
    fds: float
    tasks: float
    relay_peers: float
    hub_conns: float
    workers_mb: float
    cpu_s: float = 0.0
    workers_cpu_s: float = 0.0

    @property
    def total_mb(self) -> float:
        """The web process and its relay workers together."""
        return self.rss_mb + self.workers_mb

    def row(self) -> str:
        return (
            f"{self.t:7.0f} {self.phase:<8} {self.rss_mb:8.1f} {self.fds:6.0f} {self.tasks:6.0f}"
            f" {self.relay_peers:6.0f} {self.hub_conns:6.0f} {self.workers_mb:10.1f}"
        )


HEADER = (
    f"{'t (s)':>7} {'phase':<8} {'RSS MB':>8} {'fds':>6} {'tasks':>6} {'relay':>6} {'hub':>6}"
    f" {'workers MB':>10}"
)


def parse_metrics(text: str) -> dict[str, float]:
    """The figures of :data:`FIGURES` from a Prometheus text page (0 when absent)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        metric = name.split("{", 1)[0]
        found[metric] = found.get(metric, 0.0) + float(value) if metric in SUMMED else float(value)
    figures = {key: found.get(metric, 0.0) for key, metric in FIGURES.items()}
    figures["rss_mb"] /= 1024 * 1024
    figures["workers_mb"] /= 1024 * 1024
    return figures


async def sample(http: aiohttp.ClientSession, url: str, started: float, phase: str) -> Sample:
    async with http.get(f"{url}/metrics") as resp:
        figures = parse_metrics(await resp.text())
    return Sample(t=time.monotonic() - started, phase=phase, **figures)


def serve_child(port: int) -> int:
    """The server process: ``panamia serve`` as an operator runs it, relay workers included.

    Media uses the machine's own (non-loopback) addresses, which aiortc offers by itself on
    both sides: the relay's server peers live in worker processes started by the server, where
    no loopback-only patch of this process would reach, so the soak needs a machine with a
    network interface besides ``lo`` (any machine does)."""
    from panamia.cli import main

    return main(["serve", "--host", "127.0.0.1", "--port", str(port)])


def start_server(port: int, data_dir: str, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PANAMIA_STORE__DATA_DIR": data_dir,
        "PANAMIA_AUTH__LOADTEST_TOKEN": token,
        "PANAMIA_HTTP__PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Every simulated participant comes from 127.0.0.1: no per-address hub limit.
        "PANAMIA_LIMITS__HUB_CONNECTIONS_PER_ADDRESS": "0",
        "PANAMIA_LOG__LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "bench.soak", "--serve-child", str(port)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    wait_for_port(port, timeout=60)
    return proc


def loadtest_args(args: argparse.Namespace, url: str, out: str) -> list[str]:
    return [
        sys.executable, "-m", "panamia", "loadtest", "--url", url,
        "--sessions", str(args.sessions), "--relay-sessions", str(args.relay_sessions),
        "--hold", str(args.minutes * 60), "--ramp", str(args.ramp),
        "--video", args.video, "--fps", str(args.fps), "--processes", str(args.processes),
        "--media", args.media, "--audio-packet-ms", str(args.audio_packet_ms),
        "--max-duration", str(args.minutes * 60 + 600), "--connect-timeout", "60",
        "--quiet", "--no-metrics", "--output", out,
        "--token-env", TOKEN_VARIABLE,
    ]  # fmt: skip


async def soak(args: argparse.Namespace) -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="panamia-soak-") as tmp:
        server = start_server(port, str(Path(tmp) / "var"), token)
        samples: list[Sample] = []
        try:
            async with aiohttp.ClientSession() as http:
                started = time.monotonic()

                async def take(phase: str) -> Sample:
                    taken = await sample(http, url, started, phase)
                    samples.append(taken)
                    print(taken.row(), flush=True)
                    return taken

                print(
                    f"soak: server at {url}; sampling every {args.every:g} s; load tester "
                    f"media {args.media} (audio packets {args.audio_packet_ms} ms)",
                    flush=True,
                )
                print(HEADER)
                await asyncio.sleep(args.settle)
                idle_before = await take("idle")
                env = {**os.environ, TOKEN_VARIABLE: token}
                load = await asyncio.create_subprocess_exec(
                    *loadtest_args(args, url, str(Path(tmp) / "report")), env=env
                )
                load_started = time.monotonic()
                while load.returncode is None:
                    with_timeout = asyncio.wait_for(load.wait(), args.every)
                    try:
                        await with_timeout
                    except TimeoutError:
                        phase = (
                            "warm-up"
                            if time.monotonic() - load_started < warmup_s(args)
                            else "load"
                        )
                        await take(phase)
                print(f"soak: load test finished (exit {load.returncode})", flush=True)
                deadline = time.monotonic() + IDLE_TIMEOUT_S
                after = await take("drain")
                while (after.hub_conns or after.relay_peers) and time.monotonic() < deadline:
                    await asyncio.sleep(args.every)
                    after = await take("drain")
                await asyncio.sleep(args.settle)
                idle_after = await take("idle")
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    report(samples, idle_before, idle_after, load.returncode or 0)
    return 0 if load.returncode == 0 else 1


def warmup_s(args: argparse.Namespace) -> float:
    """Warm-up: the ramp plus a minute, or a third of the hold on short runs."""
    ramp = float(args.sessions + args.relay_sessions) / float(args.ramp)
    return ramp + min(60.0, float(args.minutes) * 60 / 3)


def report(samples: list[Sample], before: Sample, after: Sample, load_exit: int) -> None:
    loaded = [s for s in samples if s.phase == "load" and s.hub_conns > 0]
    print()
    if load_exit:
        print(f"the load test exited with {load_exit}: some sessions failed (see its report)")
    if len(loaded) >= 2:
        first, last = loaded[0], loaded[-1]
        for label, key in (("web process", "rss_mb"), ("web + relay workers", "total_mb")):
            start, end = getattr(first, key), getattr(last, key)
            growth = (end - start) / start * 100
            peak = max(getattr(s, key) for s in loaded)
            print(
                f"RSS after warm-up, {label}: {start:.1f} MB -> {end:.1f} MB at the end of the"
                f" load ({growth:+.1f} %; peak {peak:.1f} MB; aim < +10 %)"
            )
    else:
        print("RSS growth: the run was too short to sample after the warm-up")
    if len(loaded) >= 2:
        first, last = loaded[0], loaded[-1]
        span = max(1e-6, last.t - first.t)
        web = (last.cpu_s - first.cpu_s) / span * 100
        relay = (last.workers_cpu_s - first.workers_cpu_s) / span * 100
        print(
            f"server CPU under load: web process {web:.1f} % + relay workers {relay:.1f} %"
            " (100 % = one core)"
        )
    print(f"{'idle':<14} {'before':>8} {'after':>8} {'after/before':>13}")
    for key, label in (
        ("rss_mb", "RSS MB"),
        ("workers_mb", "workers MB"),
        ("fds", "open fds"),
        ("tasks", "asyncio tasks"),
        ("relay_peers", "relay peers"),
        ("hub_conns", "hub conns"),
    ):
        old, new = getattr(before, key), getattr(after, key)
        ratio = f"{new / old:.2f}" if old else ("=" if new == old else "n/a")
        print(f"{label:<14} {old:8.1f} {new:8.1f} {ratio:>13}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="hold time under load")
    parser.add_argument("--sessions", type=int, default=30, help="direct (P2P) sessions")
    parser.add_argument("--relay-sessions", type=int, default=20, help="relayed sessions")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--ramp", type=float, default=2.0, help="sessions started per second")
    parser.add_argument("--video", default="160x120", help="synthetic video, WxH")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="load-test processes (default 0: the load tester's own choice, one per 12 "
        "sessions, at most two per CPU core)",
    )
    parser.add_argument(
        "--media",
        choices=("replay", "synthetic"),
        default="replay",
        help="the load tester's media: replay (pre-encoded, frames counted, cheap) or "
        "synthetic (encoded and decoded live; far more load-tester CPU). Default %(default)s",
    )
    parser.add_argument(
        "--audio-packet-ms",
        type=int,
        choices=(20, 40, 60),
        default=20,
        help="Opus packet length in replay mode (default %(default)s, as browsers send)",
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="idle seconds before the first and last sample"
    )
    parser.add_argument("--serve-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        return serve_child(args.serve_child)
    return asyncio.run(soak(args))


if __name__ == "__main__":
    raise SystemExit(main())
