"""How the room page loads, in real Chromium: every module the call needs comes from the
generated modulepreload list (nothing is discovered import by import, nothing loads twice), at
content-hashed URLs that a second join takes from the cache without asking the server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

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
from web.static_assets import STATIC_ASSETS

pytestmark = pytest.mark.browser

# The room's entry scripts: fetched by their own tags; every other module by a preload.
ENTRIES = {"js/common.js", "js/room/room.js"}
PRELOAD = re.compile(r'<link rel="modulepreload" href="([^"]+)">')
MODULES_BEFORE_FIRST_FRAME = """() => {
  const frame = performance.getEntriesByName('room:first-remote-frame')[0].startTime;
  return performance.getEntriesByType('resource')
    .filter((r) => new URL(r.name).pathname.endsWith('.js') && r.startTime < frame)
    .map((r) => ({ url: r.name.slice(location.origin.length), bytes: r.transferSize }));
}"""


@pytest.fixture
async def room_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    def settings_for(url: str, port: int):  # type: ignore[no-untyped-def]
        return make_settings(
            http={"host": "127.0.0.1", "port": port, "public_url": url},
            auth={"dev_login": True},
            relay={"mode": "never"},
        )

    async with running_server(settings_for) as server:
        yield server


async def join(page: Page, url: str) -> list[dict[str, object]]:
    await page.goto(url)
    await wait_for_remote_video(page)
    modules: list[dict[str, object]] = await page.evaluate(MODULES_BEFORE_FIRST_FRAME)
    return modules


async def test_the_room_loads_its_modules_at_once_and_a_second_join_from_the_cache(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors
) -> None:
    server = room_server
    assets = server.app[STATIC_ASSETS]
    url = room_url(server, await book_session(server))
    mentor_ctx = await signed_in_context(browser, server, page_errors, MENTOR)
    mentee_ctx = await signed_in_context(browser, server, page_errors, MENTEE)
    mentor = await mentor_ctx.new_page()
    await mentor.goto(url)
    await mentor.wait_for_function("() => panamiaRoom.signaling.isReady()")

    mentee = await mentee_ctx.new_page()
    first = await join(mentee, url)
    await wait_for_remote_video(mentor)
    graph = set(assets.module_graph("js/room/room.js")) | set(assets.module_graph("js/common.js"))
    expected = {assets.url(module) for module in graph}
    fetched = [str(entry["url"]) for entry in first if "/vendor/" not in str(entry["url"])]
    # Each module once, at its versioned URL (the import map worked), and exactly the
    # generated graph: a module the real imports need but the list missed would show here.
    assert sorted(fetched) == sorted(expected), first
    assert set(PRELOAD.findall(await mentee.content())) >= expected - {
        assets.url(entry) for entry in ENTRIES
    }
    # The same person joins again: every module from the cache, not even a revalidation.
    await mentee.close(run_before_unload=True)
    await mentor.wait_for_function("() => panamiaRoom.call.remoteEpoch === null")
    again = await join(await mentee_ctx.new_page(), url)
    assert again and all(entry["bytes"] == 0 for entry in again), again
    await wait_for_remote_video(mentor)
    await leave_and_close(mentor_ctx, mentee_ctx)
    assert page_errors.messages == []
