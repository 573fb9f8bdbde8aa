"""The room on the websocket path: WebCodecs chunks through the server's media socket, decoded
into the same video element, with the badge saying so (forced with ?path=websocket; the NAT
lab reaches it on its own when UDP is blocked)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser.room_support import (
    eventually,
    room_server_fixture,
    room_url,
    two_participants,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors
from web import keys

pytestmark = pytest.mark.browser

DOC_IMAGE = Path(__file__).parents[2] / "docs" / "images" / "room" / "call-on-websocket.png"


ws_server = room_server_fixture("ws_server")


async def test_a_call_over_the_websocket_decodes_both_ways(
    browser: Browser, ws_server: LiveServer, page_errors: PageErrors
) -> None:
    room = await two_participants(browser, ws_server, page_errors, topic="Websocket media")
    mentor, mentee = room.mentor, room.mentee
    url = room_url(ws_server, room.session_id, "?path=websocket")
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page, timeout_ms=30_000)
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "websocket")
        await expect(page.locator("#path-name")).to_have_text("websocket")
        assert await page.evaluate("() => panamiaRoom.call.pc === null")
        assert await page.evaluate("() => panamiaRoom.call.relayPc === null")
    media = ws_server.app[keys.WSMEDIA]

    async def audio_and_video_flow() -> bool:
        stats = await mentee.evaluate("() => panamiaRoom.call.wsPath.media.stats")
        return bool(stats["decoded"] > 10 and stats["received"] > 50)

    assert await eventually(audio_and_video_flow)
    assert media.stats.sockets == 2
    if not DOC_IMAGE.exists():
        DOC_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        await mentee.screenshot(path=str(DOC_IMAGE))
    await mentee.get_by_role("button", name="End call").click()
    await expect(mentor.locator("#remote-overlay")).to_be_visible()
    await room.leave()
    assert page_errors.messages == []
