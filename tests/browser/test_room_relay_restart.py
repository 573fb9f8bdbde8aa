"""A call on the media relay survives a crash and restart of the server.

A real ``panamia serve`` process with relay.mode=always carries a call between two Chromium
pages. It is killed with SIGKILL (a crash) and started again on the same data folder and
port while both pages stay open. The restarted relay knows nothing of the call: each page
must notice that its relay connection carries no media, say so instead of "Connected", and
offer again until the relay answers, without a reload. Both remote videos decode again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from store.models import Session
from store.sqlite import SqliteStore
from tests.browser.room_support import MENTEE, MENTOR, NAMES, wait_for_remote_video
from tests.browser.support import PageErrors, close_within
from tests.support.procs import free_port
from tests.support.sessions import open_room_start
from web.auth import COOKIE_NAME, issue_token

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AUTH_SECRET = "relay-restart-auth-secret-0123456789abcdef"


class ServerProcess:
    """``panamia serve`` on a fixed port and data folder, to kill and start again."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PANAMIA_STORE__DATA_DIR": str(self.data_dir),
            "PANAMIA_AUTH__SECRET": AUTH_SECRET,
            "PANAMIA_PUSHER__SECRET": "relay-restart-pusher-secret",
            "PANAMIA_HTTP__PUBLIC_URL": self.url,
            "PANAMIA_RELAY__MODE": "always",
            "PANAMIA_LOG__LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "panamia",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, sig: int) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.proc = None

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until /readyz answers 200."""
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("the server did not become ready")
                await asyncio.sleep(0.05)


async def _book(data_dir: Path) -> str:
    store = SqliteStore(str(data_dir / "panamia.sqlite3"))
    await store.open()
    try:
        for email, name in NAMES.items():
            await store.ensure_profile(email, name)
        session_id = uuid.uuid4().hex
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=open_room_start(),
                duration=60,
                topic="Relay restart",
            )
        )
    finally:
        await store.close()
    return session_id


async def _context(
    browser: Browser, server: ServerProcess, errors: PageErrors, email: str
) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    errors.watch(context)
    token = issue_token(AUTH_SECRET, email, 3600)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    return context


RELAY_FRAMES_DECODED = """async () => {
  const pc = window.panamiaRoom.call.relayPc;
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      frames += report.framesDecoded || 0;
    }
  });
  return frames;
}"""


async def _frames_decoded(page: Page) -> int:
    return int(await page.evaluate(RELAY_FRAMES_DECODED))


async def _frames_flow(page: Page, timeout_s: float, more_than: int = 2) -> None:
    """Until the current relay connection has decoded more than ``more_than`` video frames."""
    deadline = time.monotonic() + timeout_s
    while await _frames_decoded(page) <= more_than:
        assert time.monotonic() < deadline, "no frames decoded on the new relay connection"
        await asyncio.sleep(0.05)


async def test_a_relayed_call_comes_back_after_the_server_restarts(
    browser: Browser, tmp_path: Path, page_errors: PageErrors
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    server = ServerProcess(data_dir, free_port())
    server.start()
    contexts: list[BrowserContext] = []
    try:
        await server.wait_ready()
        session_id = await _book(data_dir)
        url = f"{server.url}/mentoring/session/{session_id}"
        contexts = [
            await _context(browser, server, page_errors, MENTOR),
            await _context(browser, server, page_errors, MENTEE),
        ]
        pages = [await context.new_page() for context in contexts]
        await asyncio.gather(*(page.goto(url) for page in pages))
        for page in pages:
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).to_have_text("relay")
            await expect(page.locator("#signal-status")).to_have_text("Connected")
            await page.evaluate("() => { window.sameDocument = true; }")  # gone on a reload

        server.stop(signal.SIGKILL)  # a crash: no goodbye to anyone
        for page in pages:
            # The page notices: no claim of a connection that carries nothing.
            await expect(page.locator("#signal-status")).not_to_have_text(
                "Connected", timeout=20_000
            )
            await expect(page.locator("#path-name")).to_have_text(
                "relay (reconnecting...)", timeout=20_000
            )
        await asyncio.sleep(3)  # some offers fail while nobody listens

        server.start()
        await server.wait_ready()
        back_at = time.monotonic()
        await asyncio.gather(*(_frames_flow(page, 60.0) for page in pages))
        recovery_s = time.monotonic() - back_at
        print(f"\nrelay restart: frames flow on both pages {recovery_s:.2f} s after /readyz 200")
        for page in pages:
            before = await _frames_decoded(page)
            await wait_for_remote_video(page, timeout_ms=20_000)
            await _frames_flow(page, 20.0, more_than=before)  # still decoding
            await expect(page.locator("#path-name")).to_have_text("relay", timeout=20_000)
            await expect(page.locator("#signal-status")).to_have_text("Connected", timeout=20_000)
            assert await page.evaluate("() => window.sameDocument === true")
        # Failed fetches and socket errors while the server was away are expected; a call
        # step that threw is not.
        assert not [m for m in page_errors.messages if "call step failed" in m], (
            page_errors.messages
        )
    finally:
        for context in contexts:
            for page in context.pages:
                await close_within(page.close(run_before_unload=False), 5.0)
            await close_within(context.close(), 5.0)
        server.stop(signal.SIGTERM)
