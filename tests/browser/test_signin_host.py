"""With http.host=127.0.0.1 and no public_url, signing in from http://127.0.0.1:<port> keeps
the person on that origin (the link used to point at localhost, another origin whose
cookies the page never sees)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Browser, expect

from panamia.app import create_app
from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in
from tests.conftest import SettingsFactory
from tests.support.procs import free_port


@pytest.fixture
async def server_without_public_url(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(http={"host": "127.0.0.1", "port": port}, auth={"dev_login": True})
    assert settings.http.public_url == ""
    runner = web.AppRunner(create_app(settings), shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", runner.app)
    finally:
        await runner.cleanup()


async def test_the_on_page_link_keeps_the_browsed_origin(
    server_without_public_url: LiveServer,
    browser: Browser,
    shots: Shots,
    page_errors: PageErrors,
) -> None:
    server = server_without_public_url
    context = await new_context(browser, page_errors, time_zone="UTC")
    page = await context.new_page()
    await sign_in(page, server, "lia@example.org", "/mentoring/profile", shots, "lia")
    assert page.url.startswith(server.url + "/")
    await expect(page.get_by_test_id("user-name")).to_be_visible()
    await context.close()
