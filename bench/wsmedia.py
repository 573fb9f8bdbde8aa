"""Media over the server's websocket against the media relay, in one run: the server's CPU per
stream and the latency each path adds, capture to render, in real Chromium over loopback.

Both pages replace their camera with a canvas that paints the page's clock (milliseconds,
as 24 black or white blocks) into every frame, plus moving content for the encoder to work
on, and a tone for the microphone. The receiving page reads the blocks back from each frame
the remote video element presents (requestVideoFrameCallback) and subtracts them from its
own clock: the same browser, so the same clock. The server runs as its own ``panamia serve``
process; its CPU time comes from /proc. One call is two streams (each side's video and
audio). The baseline is the relay path (``?relay=always``), measured in the same run.

    python -m bench.wsmedia [--seconds 20]

Prints figures and ratios; never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from bench.chromium import CHROMIUM, LAUNCH_ARGS
from bench.ports import free_port
from loadtest import api

REPO = Path(__file__).resolve().parents[1]
STREAMS_PER_CALL = 2
WARM_UP_S = 5.0

TIME_CODED_CAMERA = """(() => {
  const BLOCKS = 24, SIZE = 26;
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const canvas = document.createElement('canvas');
    canvas.width = 640; canvas.height = 480;
    const g = canvas.getContext('2d');
    let x = 0;
    const paint = () => {
      g.fillStyle = '#246'; g.fillRect(0, 0, 640, 480);
      g.fillStyle = '#fc3'; x = (x + 7) % 600; g.fillRect(x, 200, 40, 120);
      for (let i = 0; i < 40; i += 1) {
        g.fillStyle = `hsl(${(x * 3 + i * 9) % 360} 70% 50%)`;
        g.fillRect((i * 53 + x) % 640, 340 + (i % 5) * 25, 20, 20);
      }
      const code = Math.floor(performance.timeOrigin + performance.now()) % (1 << BLOCKS);
      for (let i = 0; i < BLOCKS; i += 1) {
        g.fillStyle = (code >> i) & 1 ? '#fff' : '#000';
        g.fillRect(8 + i * SIZE, 8, SIZE, SIZE * 2);
      }
    };
    paint();
    setInterval(paint, 1000 / 30);
    const stream = canvas.captureStream(30);
    if (constraints && constraints.audio) {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      const out = audio.createMediaStreamDestination();
      tone.connect(out); tone.start();
      for (const track of out.stream.getAudioTracks()) stream.addTrack(track);
    }
    return stream;
  };
  window.__latencies = [];
  const probe = document.createElement('canvas');
  probe.width = 640; probe.height = 64;
  const pg = probe.getContext('2d', { willReadFrequently: true });
  const watch = () => {
    const video = document.querySelector('#remote-video');
    if (!video) { setTimeout(watch, 100); return; }
    const onFrame = () => {
      if (video.videoWidth > 0) {
        // WebRTC may scale the video down under load: read it back at the painted size
        const h = video.videoHeight * 64 / 480;
        pg.drawImage(video, 0, 0, video.videoWidth, h, 0, 0, 640, 64);
        const row = pg.getImageData(0, 0, 640, 64).data;
        let code = 0;
        for (let i = 0; i < BLOCKS; i += 1) {
          const at = (33 * 640 + 8 + i * SIZE + SIZE / 2) * 4;
          if (row[at] > 127) code |= 1 << i;
        }
        const now = Math.floor(performance.timeOrigin + performance.now()) % (1 << BLOCKS);
        const latency = (now - code + (1 << BLOCKS)) % (1 << BLOCKS);
        if (latency < 5000) window.__latencies.push(latency);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  document.addEventListener('DOMContentLoaded', watch);
})();"""


RESET = """() => {
  window.__latencies = [];
  const media = panamiaRoom.call.wsPath.media;
  if (media) for (const key of ["latencyMs", "encodeMs", "arriveMs"]) media.stats[key] = [];
}"""
STAGES = """() => {
  const stats = panamiaRoom.call.wsPath.media?.stats;
  return stats ? [stats.encodeMs, stats.arriveMs, stats.latencyMs] : [[], [], []];
}"""
STAGE_NAMES = ("capture -> encoded", "capture -> arrived", "capture -> decoded")


@dataclass
class PathFigures:
    name: str
    cpu_per_stream: float
    """Server CPU-seconds per second per stream."""
    latency_p50: float
    latency_p95: float
    frames: int


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spawn_server(data: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PANAMIA_HTTP__HOST": "127.0.0.1",
        "PANAMIA_HTTP__PORT": str(port),
        "PANAMIA_STORE__DATA_DIR": str(data),
        "PANAMIA_AUTH__LOADTEST_TOKEN": token,
        "PANAMIA_AUTH__DEV_LOGIN": "false",
        "PANAMIA_STUN__PORT": "0",
        "PANAMIA_LOG__LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen([sys.executable, "-m", "panamia", "serve"], env=env, cwd=str(REPO))


async def start_server(data: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    proc = spawn_server(data, port, token)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        await asyncio.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 30 s")


async def cookie_of(base: str, email: str, token: str) -> str:
    user = await api.sign_in(base, email, token)
    try:
        return str(user.http.headers["Authorization"]).removeprefix("Bearer ")
    finally:
        await user.close()


async def book(base: str, token: str, tag: str) -> tuple[str, str, str]:
    mentor_email = f"bench-{tag}-mentor@loadtest.invalid"
    mentee_email = f"bench-{tag}-mentee@loadtest.invalid"
    mentor = await api.sign_in(base, mentor_email, token)
    mentee = await api.sign_in(base, mentee_email, token)
    try:
        await api.become_mentor(mentor)
        session_id = await api.book(mentee, mentor_email, f"Websocket bench {tag}")
    finally:
        await mentor.close()
        await mentee.close()
    return session_id, mentor_email, mentee_email


async def open_call(
    browser: Browser, base: str, token: str, query: str, tag: str
) -> tuple[list[Page], list[object]]:
    session_id, *emails = await book(base, token, tag)
    pages: list[Page] = []
    contexts: list[object] = []
    for email in emails:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        await context.add_init_script(TIME_CODED_CAMERA)
        cookie = await cookie_of(base, email, token)
        await context.add_cookies([{"name": "panamia_session", "value": cookie, "url": base}])
        page = await context.new_page()
        pages.append(page)
        contexts.append(context)
    await asyncio.gather(*(p.goto(f"{base}/mentoring/session/{session_id}{query}") for p in pages))
    for page in pages:
        await page.wait_for_function("() => window.__latencies.length > 10", timeout=60_000)
    return pages, contexts


async def measure_path(
    browser: Browser, base: str, token: str, pid: int, name: str, query: str, seconds: float
) -> PathFigures:
    print(f"[{name}] opening a call ({query})...", flush=True)
    pages, contexts = await open_call(browser, base, token, query, name)
    print(f"[{name}] warming up {WARM_UP_S:g} s", flush=True)
    await asyncio.sleep(WARM_UP_S)
    badge = await pages[0].evaluate("() => document.querySelector('#path-badge').dataset.path")
    for page in pages:
        await page.evaluate(RESET)
    cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
    for second in range(int(seconds)):
        await asyncio.sleep(1)
        if second % 5 == 4:
            print(f"[{name}] measuring... {second + 1}/{int(seconds)} s", flush=True)
    cpu = cpu_seconds(pid) - cpu_start
    wall = time.monotonic() - wall_start
    latencies: list[float] = []
    stages: list[list[float]] = [[], [], []]
    for page in pages:
        latencies += [float(v) for v in await page.evaluate("() => window.__latencies")]
        for stage, values in zip(stages, await page.evaluate(STAGES), strict=True):
            stage += [float(v) for v in values]
    for stage_name, values in zip(STAGE_NAMES, stages, strict=True):
        if values:
            print(
                f"[{name}] {stage_name}: p50 {percentile(values, 0.5):.1f} ms,"
                f" p95 {percentile(values, 0.95):.1f} ms",
                flush=True,
            )
    for context in contexts:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(context.close(), 10)  # type: ignore[attr-defined]
    if not latencies:
        latencies = [float("nan")]
    return PathFigures(
        name=f"{name} ({badge})",
        cpu_per_stream=cpu / wall / STREAMS_PER_CALL,
        latency_p50=percentile(latencies, 0.5),
        latency_p95=percentile(latencies, 0.95),
        frames=len(latencies),
    )


async def run(seconds: float) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="panamia-bench-") as tmp:
        server = await start_server(Path(tmp), port, token)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=LAUNCH_ARGS
                )
                try:
                    idle_start, idle_wall = cpu_seconds(server.pid), time.monotonic()
                    await asyncio.sleep(3)
                    idle = (cpu_seconds(server.pid) - idle_start) / (time.monotonic() - idle_wall)
                    relay = await measure_path(
                        browser, base, token, server.pid, "relay", "?relay=always", seconds
                    )
                    ws = await measure_path(
                        browser, base, token, server.pid, "websocket", "?path=websocket", seconds
                    )
                finally:
                    await browser.close()
        finally:
            server.terminate()
            server.wait(10)
    report(idle, relay, ws, seconds)


def report(idle: float, relay: PathFigures, ws: PathFigures, seconds: float) -> None:
    print()
    print(f"wsmedia: {seconds:g} s per path, {STREAMS_PER_CALL} streams (video + audio) per call")
    print(f"server idle: {idle:.4f} CPU-s/s (included below)")
    print(f"{'path':<24} {'CPU-s/s per stream':>19} {'capture->render p50':>20} {'p95':>8} frames")
    for figures in (relay, ws):
        print(
            f"{figures.name:<24} {figures.cpu_per_stream:>19.4f} {figures.latency_p50:>17.1f} ms"
            f" {figures.latency_p95:>5.1f} ms {figures.frames:>6}"
        )
    if relay.cpu_per_stream > 0:
        print(f"ratio CPU websocket/relay: {ws.cpu_per_stream / relay.cpu_per_stream:.2f}x")
    print(
        f"added latency websocket - relay: p50 {ws.latency_p50 - relay.latency_p50:+.1f} ms,"
        f" p95 {ws.latency_p95 - relay.latency_p95:+.1f} ms"
        f" (ratio p50 {ws.latency_p50 / relay.latency_p50:.2f}x)"
    )
    print(f"streams per core at this rate: websocket ~{1 / max(ws.cpu_per_stream, 1e-9):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per path")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    asyncio.run(run(max(3.0, args.seconds)))


if __name__ == "__main__":
    main()
