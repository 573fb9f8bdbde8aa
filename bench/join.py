"""Time to join a call: from opening the session room to the first decoded frame of the other
participant's video, in real Chromium with fake cameras, over loopback.

The mentor waits in the room; the mentee opens it again and again (a fresh page each run).
With ``--order mentee-first`` the roles swap: the mentee waits and the mentor joins.
Each figure is the page's own clock: ``performance.mark("room:first-remote-frame")``, set
by the room when the remote video element presents its first frame, measured from the
navigation start. The baseline, in the same browser, is two RTCPeerConnections inside one
page wired to each other directly (no page load, no server, no signaling): the floor that
WebRTC itself imposes here.

    python -m bench.join [--runs 12] [--order mentor-first|mentee-first|both]

Prints p50 and p95 (and the ratio to the baseline) and the median time of each milestone of
both pages on the joining page's clock (the waiting page's marks are prefixed "other:"), so a
slow step shows on whichever side it happens; never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.chromium import CHROMIUM, LAUNCH_ARGS
from bench.ports import free_port
from config.loader import build_settings
from panamia.app import create_app
from store.models import Session
from web import keys
from web.auth import COOKIE_NAME, session_token_for

MENTOR = "bench.mentor@example.org"
MENTEE = "bench.mentee@example.org"
FIRST_FRAME = """() => new Promise((resolve) => {
  const check = () => {
    const [mark] = performance.getEntriesByName('room:first-remote-frame');
    if (mark) resolve(mark.startTime); else setTimeout(check, 5);
  };
  check();
})"""

BASELINE = """async () => {
  const started = performance.now();
  let media = 0, ice = 0;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  media = performance.now() - started;
  const a = new RTCPeerConnection({ iceServers: [] });
  const b = new RTCPeerConnection({ iceServers: [] });
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const frame = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
  b.oniceconnectionstatechange = () => {
    if (!ice && b.iceConnectionState === 'connected') ice = performance.now() - started;
  };
  b.ontrack = (e) => {
    if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
  };
  for (const track of stream.getTracks()) a.addTrack(track, stream);
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  await frame;
  const elapsed = performance.now() - started;
  a.close(); b.close(); video.remove();
  for (const track of stream.getTracks()) track.stop();
  return [elapsed, media, ice];
}"""


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def build_app(data_dir: Path, port: int) -> web.Application:
    url = f"http://127.0.0.1:{port}"
    settings = build_settings(
        {
            "http": {"host": "127.0.0.1", "port": port, "public_url": url},
            "store": {"data_dir": str(data_dir)},
            "auth": {"dev_login": True},
            "relay": {"mode": "never"},
            "log": {"level": "warning"},
        }
    )
    return create_app(settings)


async def book(app: web.Application) -> str:
    store = app[keys.STORE]
    await store.ensure_profile(MENTOR, "Bench Mentor")
    await store.ensure_profile(MENTEE, "Bench Mentee")
    session_id = uuid.uuid4().hex
    # Started a minute ago: the room only opens around the session's time.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    await store.create_session(
        Session(
            session_id=session_id,
            mentor_email=MENTOR,
            mentee_email=MENTEE,
            scheduled_at=start,
            duration=120,
            topic="Join benchmark",
        )
    )
    return session_id


async def context_for(
    browser: Browser, app: web.Application, url: str, email: str
) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    token = session_token_for(app, email)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": url}])
    return context


# The page's marks as [name, time since its navigation started, time origin].
MARKS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const marks = performance.getEntriesByType('mark')
    .filter((m) => m.name.startsWith('room:'))
    .map((m) => [m.name.slice(5), m.startTime]);
  return { origin: performance.timeOrigin, marks: [
    ['html received', nav.responseEnd],
    ['page loaded (DOMContentLoaded)', nav.domContentLoadedEventEnd], ...marks] };
}"""


async def join_once(
    context: BrowserContext, room: str, waiting: Page, milestones: list[dict[str, float]]
) -> float:
    # The waiting page marks each milestone once: clear them so this join's are its own.
    await waiting.evaluate("() => performance.clearMarks()")
    page = await context.new_page()
    await page.goto(room)
    elapsed = float(await asyncio.wait_for(page.evaluate(FIRST_FRAME), 30))
    mine = await page.evaluate(MARKS)
    other = await waiting.evaluate(MARKS)
    shift = other["origin"] - mine["origin"]  # both clocks are the same wall clock
    marks = dict(mine["marks"])
    for name, at in other["marks"][2:]:  # not the waiting page's own load
        marks[f"other: {name}"] = at + shift
    milestones.append(marks)
    await page.close(run_before_unload=True)
    # The waiting page has seen the joiner go (client-bye / presence) before the next run.
    await waiting.wait_for_function(
        "() => panamiaRoom.call.remoteEpoch === null"
        " && !document.querySelector('#remote-overlay').hidden",
        timeout=15_000,
    )
    return elapsed


async def run(runs: int, mentee_first: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="panamia-bench-") as tmp:
        runner = web.AppRunner(build_app(Path(tmp), port), shutdown_timeout=2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            app = runner.app
            session_id = await book(app)
            room = f"{url}/mentoring/session/{session_id}"
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=LAUNCH_ARGS
                )
                try:
                    await measure(browser, app, url, room, runs, mentee_first)
                finally:
                    await browser.close()
        finally:
            await runner.cleanup()


async def measure(
    browser: Browser, app: web.Application, url: str, room: str, runs: int, mentee_first: bool
) -> None:
    mentor_ctx = await context_for(browser, app, url, MENTOR)
    mentee_ctx = await context_for(browser, app, url, MENTEE)
    waiting_ctx, joining_ctx = (
        (mentee_ctx, mentor_ctx) if mentee_first else (mentor_ctx, mentee_ctx)
    )
    waiting = await waiting_ctx.new_page()
    await waiting.goto(room)
    await waiting.wait_for_function("() => panamiaRoom.signaling.isReady()")

    await join_once(joining_ctx, room, waiting, [])  # warm-up: caches, first getUserMedia
    milestones: list[dict[str, float]] = []
    joins: list[float] = []
    for number in range(1, runs + 1):
        joins.append(await join_once(joining_ctx, room, waiting, milestones))
        print(f"  join {number}/{runs}: {joins[-1]:.0f} ms", file=sys.stderr, flush=True)

    probe = await joining_ctx.new_page()
    await probe.goto(url + "/signin")
    await probe.evaluate(BASELINE)  # warm-up
    baseline_marks = [await probe.evaluate(BASELINE) for _ in range(runs)]
    baseline = [float(elapsed) for elapsed, _, _ in baseline_marks]
    await probe.close()

    def line(name: str, values: list[float]) -> str:
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        return (
            f"{name:<34} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   min {min(values):6.1f}"
            f"   max {max(values):6.1f}   mean {statistics.fmean(values):6.1f}"
        )

    order = (
        "the mentee waits, the mentor joins"
        if mentee_first
        else "the mentor waits, the mentee joins"
    )
    print(f"join: open room -> first decoded remote frame, {runs} runs (after 1 warm-up); {order}")
    print("  runs (ms): " + ", ".join(f"{v:.0f}" for v in joins))
    print(line("room join (page + hub + P2P)", joins))
    print(line("baseline (in-page loopback pair)", baseline))
    ratio = percentile(joins, 0.5) / percentile(baseline, 0.5)
    print(f"ratio p50 room/baseline: {ratio:.2f}x")
    media_ms = statistics.median(m for _, m, _ in baseline_marks)
    ice_ms = statistics.median(i for _, _, i in baseline_marks)
    print(
        f"baseline medians: media ready {media_ms:.0f}, ICE connected {ice_ms:.0f},"
        f" first frame {statistics.median(baseline):.0f} ms"
    )
    print("median time of each milestone after opening the room (ms):")
    names = sorted(
        {n for m in milestones for n in m},
        key=lambda n: statistics.median(m[n] for m in milestones if n in m),
    )
    for name in names:
        values = [m[name] for m in milestones if name in m]
        print(f"  {name:<40} {statistics.median(values):7.0f}")
    await mentor_ctx.close()
    await mentee_ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12, help="measured joins (at least 10)")
    parser.add_argument(
        "--order",
        choices=("mentor-first", "mentee-first", "both"),
        default="mentor-first",
        help="who waits in the room while the other one joins; both: one order, then the"
        " other (default %(default)s)",
    )
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    orders = ("mentor-first", "mentee-first") if args.order == "both" else (args.order,)
    for order in orders:
        asyncio.run(run(max(10, args.runs), order == "mentee-first"))


if __name__ == "__main__":
    main()
