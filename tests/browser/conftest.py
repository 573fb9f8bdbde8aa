"""Fixtures for the browser journeys: a live server on a real port and Debian's Chromium
driven by Playwright. Chromium comes from the system package (``apt-get install chromium``);
Playwright's own browser download is never used."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright, expect

from panamia.app import create_app
from tests.browser.support import CHROMIUM, LAUNCH_ARGS, LiveServer, PageErrors, Shots, close_within
from tests.conftest import SettingsFactory
from tests.support.procs import free_port

expect.set_options(timeout=10_000)


@pytest.fixture
async def live_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    """The whole app from create_app, listening on 127.0.0.1 on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        http={"host": "127.0.0.1", "port": port, "public_url": url},
        auth={"dev_login": True, "link_requests_per_hour": 50},
    )
    runner = web.AppRunner(create_app(settings), shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(url, runner.app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            # A browser that held fake media devices can fail to acknowledge a graceful
            # close; leaving the playwright block then stops its driver and the browser.
            await close_within(chromium.close(), 10)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    """Screenshots go to $PANAMIA_TEST_ARTIFACTS/browser/<test>/ (default: beside the tests)."""
    base = os.environ.get("PANAMIA_TEST_ARTIFACTS")
    root = Path(base) if base else Path(__file__).parent / "artifacts"
    folder = root / "browser" / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Shots(folder)


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()
