"""The room on the media relay: forced with ?relay=always, and reached automatically when the
direct connection does not come up in time (auto mode)."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, expect

from tests.browser.room_support import (
    MENTEE,
    book_session,
    eventually,
    leave_and_close,
    room_server_fixture,
    room_url,
    signed_in_context,
    two_participants,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors, Shots
from web import keys

pytestmark = pytest.mark.browser


# A direct connection can never come up within 1 ms: auto mode must fall back.
relay_server = room_server_fixture(
    "relay_server", relay={"mode": "auto", "connect_timeout_s": 0.001}
)


async def _call_on_relay(
    browser: Browser, server: LiveServer, errors: PageErrors, shots: Shots, query: str
) -> None:
    room = await two_participants(browser, server, errors, topic="Relay check")
    mentor, mentee = room.mentor, room.mentee
    url = room_url(server, room.session_id, query)
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page, timeout_ms=30_000)
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "relay")
        await expect(page.locator("#path-name")).to_have_text("relay")
        assert await page.evaluate("() => panamiaRoom.call.pc === null")
    # Chromium's media crossed the relay as RTP packets, without decoding, and mostly on the
    # fast path (aiortc's own path only teaches the routes).
    relay = server.app[keys.RELAY]

    async def forwarded_enough() -> bool:
        return bool(relay.stats()["packets_forwarded"] > 200)

    assert await eventually(forwarded_enough)
    stats = relay.stats()
    assert stats["transcoding"] == 0
    assert stats["frames_in"] == 0
    assert stats["packets_fast"] > stats["packets_in"] / 2, stats
    await shots(mentee, "mentee-on-relay")
    await mentee.get_by_role("button", name="End call").click()
    await expect(mentor.locator("#remote-overlay")).to_be_visible()
    await room.leave()
    assert errors.messages == []


async def test_relay_always_carries_the_call(
    browser: Browser, relay_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    await _call_on_relay(browser, relay_server, page_errors, shots, "?relay=always")


async def test_auto_mode_moves_both_sides_to_the_relay(
    browser: Browser, relay_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    await _call_on_relay(browser, relay_server, page_errors, shots, "")


SLOW_CAMERA = """
(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    new Promise((resolve) => setTimeout(resolve, 2000)).then(() => open(constraints));
})();
"""


async def test_a_side_whose_camera_is_slow_moves_wholly_to_the_relay(
    browser: Browser, relay_server: LiveServer, page_errors: PageErrors
) -> None:
    """The other side moves the call to the relay while this side's camera is still opening:
    once it opens, no peer-to-peer connection is set up beside the relay's."""
    room = await two_participants(browser, relay_server, page_errors, topic="Slow camera")
    mentor, mentee = room.mentor, room.mentee
    await mentee.add_init_script(SLOW_CAMERA)
    url = room_url(relay_server, room.session_id, "")
    await mentor.goto(url)
    await mentor.wait_for_function("() => panamiaRoom.signaling.isReady()")
    await mentee.goto(url)
    for page in (mentor, mentee):
        await wait_for_remote_video(page, timeout_ms=30_000)
        await expect(page.locator("#path-name")).to_have_text("relay")
    # Settled: nothing queued behind the camera creates a connection after the move.
    await mentee.evaluate("() => panamiaRoom.call.chain")
    for page in (mentor, mentee):
        assert await page.evaluate("() => panamiaRoom.call.pc === null")
    await room.leave()
    assert page_errors.messages == []


async def test_relay_never_stays_peer_to_peer(
    browser: Browser, relay_server: LiveServer, page_errors: PageErrors
) -> None:
    """With the relay ruled out, even a tiny fallback timer leaves the call direct."""
    room = await two_participants(browser, relay_server, page_errors, topic="Direct only")
    mentor, mentee = room.mentor, room.mentee
    url = room_url(relay_server, room.session_id, "?relay=never")
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "direct")
        assert await page.evaluate("() => panamiaRoom.call.onRelay") is False
    await room.leave()
    assert page_errors.messages == []


# A relay that takes no session: every offer is refused with 503.
full_relay_server = room_server_fixture(
    "full_relay_server", relay={"mode": "always", "max_sessions": 0}
)


async def test_a_refused_relay_is_shown_with_the_servers_reason(
    browser: Browser, full_relay_server: LiveServer, page_errors: PageErrors
) -> None:
    session_id = await book_session(full_relay_server, topic="Relay refused")
    context = await signed_in_context(browser, full_relay_server, page_errors, MENTEE)
    page = await context.new_page()
    await page.goto(room_url(full_relay_server, session_id, "?relay=always"))
    shown = page.locator("#call-error")
    await expect(shown).to_be_visible()
    await expect(shown).to_contain_text("The media relay is not available: ")
    await expect(shown).to_contain_text("already carries 0 sessions")
    await leave_and_close(context)
