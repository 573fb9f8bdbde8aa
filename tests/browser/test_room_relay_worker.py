"""A relayed call between two Chromium pages survives the death of its relay worker.

The server runs the relay in two worker processes (``relay.workers = 2``). The worker carrying
the call is killed with SIGKILL while both pages stay open: the web process notices, replaces
it and forgets the call; each page's relay watchdog sees its media stop and offers again; the
new offers land on a running worker and both remote videos decode again, without a reload.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from relay.pool import WorkerPool
from tests.browser.room_support import (
    MENTEE,
    MENTOR,
    book_session,
    leave_and_close,
    room_url,
    running_server,
    signed_in_context,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors
from tests.conftest import SettingsFactory
from web import keys

pytestmark = pytest.mark.browser

NEW_RELAY_FRAMES = """async () => {
  const pc = window.panamiaRoom.call.relayPc;
  if (!pc || pc.markedBeforeTheKill) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      frames += report.framesDecoded || 0;
    }
  });
  return frames;
}"""
"""Video frames decoded on a relay connection opened after the kill (0 before one exists)."""


@pytest.fixture
async def worker_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    def settings_for(url: str, port: int):  # type: ignore[no-untyped-def]
        return make_settings(
            http={"host": "127.0.0.1", "port": port, "public_url": url},
            relay={"mode": "always", "workers": 2},
        )

    async with running_server(settings_for) as server:
        pool = server.app[keys.RELAY]
        assert isinstance(pool, WorkerPool)
        await pool.wait_started()
        yield server


async def _new_connection_decodes(page: Page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while int(await page.evaluate(NEW_RELAY_FRAMES)) <= 2:
        assert time.monotonic() < deadline, "no frames on a new relay connection"
        await asyncio.sleep(0.1)


async def test_a_call_moves_to_a_live_worker_when_its_worker_is_killed(
    browser: Browser, worker_server: LiveServer, page_errors: PageErrors
) -> None:
    pool = worker_server.app[keys.RELAY]
    assert isinstance(pool, WorkerPool)
    session_id = await book_session(worker_server, topic="Relay worker")
    url = room_url(worker_server, session_id)
    contexts = [
        await signed_in_context(browser, worker_server, page_errors, email)
        for email in (MENTOR, MENTEE)
    ]
    try:
        pages = [await context.new_page() for context in contexts]
        await asyncio.gather(*(page.goto(url) for page in pages))
        for page in pages:
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).to_have_text("relay")
        [carrier] = [row for row in pool.worker_stats() if row["sessions"] == 1]
        for page in pages:
            await page.evaluate("() => { window.panamiaRoom.call.relayPc.markedBeforeTheKill = 1 }")
            await page.evaluate("() => { window.sameDocument = true; }")  # gone on a reload

        os.kill(carrier["pid"], signal.SIGKILL)  # a crash of the worker only

        await asyncio.gather(*(_new_connection_decodes(page, 60.0) for page in pages))
        for page in pages:
            await expect(page.locator("#path-name")).to_have_text("relay", timeout=20_000)
            assert await page.evaluate("() => window.sameDocument === true")
        assert pool.stats()["worker_restarts"] == 1
        assert pool.has_participant(session_id, MENTOR) and pool.has_participant(session_id, MENTEE)
        assert not [m for m in page_errors.messages if "call step failed" in m], (
            page_errors.messages
        )
    finally:
        await leave_and_close(*contexts)
