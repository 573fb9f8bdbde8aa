"""One side of one session in Debian Chromium, run inside a lab namespace:
``python -m tests.nat.browser_driver``.

The same line protocol as :mod:`tests.nat.peer_driver` (session/ready, a go line, one result
line, a leave line), but the participant is the real room page: Chromium launches before the
go line, then opens ``/mentoring/session/{id}`` and waits until either the remote video decodes
on a known path (the room's path badge: direct, turn, relay or websocket) or the room shows
an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Page, async_playwright

from loadtest import api
from tests.nat.peer_driver import emit, read_line

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
POLL_S = 0.1
STATE = """() => {
  const video = document.querySelector('#remote-video');
  const error = document.querySelector('#call-error');
  return {
    path: document.querySelector('#path-badge')?.dataset.path || 'none',
    frames: video ? video.getVideoPlaybackQuality().totalVideoFrames : 0,
    width: video ? video.videoWidth : 0,
    error: error && !error.hidden ? error.textContent.trim() : '',
  };
}"""

MARKS = """() => Object.fromEntries(performance.getEntriesByType('mark')
  .filter((m) => m.name.startsWith('room:'))
  .map((m) => [m.name.slice(5), Math.round(m.startTime)]))"""
"""The room's milestones (ms after navigation start), for reading a slow cell's log."""

WITHOUT_WEBCODECS = """for (const name of ['VideoEncoder', 'VideoDecoder', 'AudioEncoder',
  'AudioDecoder', 'MediaStreamTrackProcessor', 'MediaStreamTrackGenerator']) delete window[name];"""
"""Make the page look like a browser without WebCodecs."""


async def session_token(base: str, email: str, token: str) -> str:
    """The same session token a browser's sign-in would put in its cookie."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.post(
            f"{base}/api/auth/loadtest",
            json={"email": email},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        body = await resp.json(content_type=None)
    value = body.get("token") if isinstance(body, dict) else None
    if resp.status != 200 or not isinstance(value, str):
        raise RuntimeError(f"load-test sign-in: HTTP {resp.status}")
    return value


async def watch(page: Page, started: float, timeout_s: float) -> dict[str, Any]:
    """Poll the room until video decodes on a path, an error shows, or time runs out
    (times in ms from ``started``)."""
    state: dict[str, Any] = {}
    connected_ms: float | None = None
    while time.monotonic() - started < timeout_s:
        state = await page.evaluate(STATE)
        elapsed = round((time.monotonic() - started) * 1000, 1)
        if state["path"] in ("direct", "turn", "relay", "websocket") and connected_ms is None:
            connected_ms = elapsed
        if state["error"]:
            return {**state, "ok": False, "elapsedMs": elapsed}
        if connected_ms is not None and state["frames"] > 0 and state["width"] > 0:
            marks = await page.evaluate(MARKS)
            return {
                "marks": marks,
                "ok": True,
                "error": "",
                "connectedMs": connected_ms,
                "frameMs": elapsed,
                **state,
            }
        await asyncio.sleep(POLL_S)
    elapsed = round((time.monotonic() - started) * 1000, 1)
    error = f"no remote video within {timeout_s:g} s (path {state.get('path')})"
    return {**state, "ok": False, "error": error, "elapsedMs": elapsed}


async def run(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    mentor_email = f"nat-{args.tag}-mentor@loadtest.invalid"
    mentee_email = f"nat-{args.tag}-mentee@loadtest.invalid"
    email = mentor_email if args.role == "mentor" else mentee_email
    try:
        if args.role == "mentor":
            mentor = await api.sign_in(base, mentor_email, args.token)
            mentee = await api.sign_in(base, mentee_email, args.token)
            try:
                await api.become_mentor(mentor)
                session_id = await api.book(mentee, mentor_email, f"NAT lab {args.tag}")
            finally:
                await mentor.close()
                await mentee.close()
        cookie = await session_token(base, email, args.token)
    except Exception as exc:
        emit(event="result", ok=False, error=f"setup: {type(exc).__name__}: {exc}")
        return 1
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                f"--unsafely-treat-insecure-origin-as-secure={base}",
            ],
        )
        try:
            context = await browser.new_context()
            if args.no_webcodecs:
                await context.add_init_script(WITHOUT_WEBCODECS)
            await context.add_cookies([{"name": "panamia_session", "value": cookie, "url": base}])
            page = await context.new_page()
            if args.role == "mentor":
                emit(event="session", sessionId=session_id)
                await read_line()
            else:
                emit(event="ready")
                session_id = await read_line()
            started = time.monotonic()
            await page.goto(f"{base}/mentoring/session/{session_id}", timeout=30_000)
            result = await watch(page, started, args.timeout)
            emit(event="result", role=args.role, **result)
            await read_line()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 10)
    return 0 if result["ok"] else 1


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="one Chromium side of a NAT-lab session")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True, help="the server's auth.loadtest_token")
    parser.add_argument("--role", choices=("mentor", "mentee"), required=True)
    parser.add_argument("--tag", required=True, help="unique per session (in the e-mails)")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument(
        "--no-webcodecs", action="store_true", help="a browser without WebCodecs (no websocket)"
    )
    return parser


def main() -> int:
    return asyncio.run(run(argument_parser().parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
