"""The other side's camera and microphone in real Chromium: turning them off shows the avatar
and "Camera off" instead of a black frame and a muted-microphone mark on the name, and a page
that loads later still learns the state.

Set PANAMIA_SCREENSHOTS_DIR=docs/images/room to refresh the docs' screenshots."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, expect

from tests.browser.room_support import (
    room_server_fixture,
    room_url,
    two_participants,
    wait_for_remote_video,
)
from tests.browser.scheduling_support import DocShots
from tests.browser.support import LiveServer, PageErrors, Shots

pytestmark = pytest.mark.browser


room_server = room_server_fixture("room_server")


async def test_each_side_sees_the_others_camera_and_microphone_state(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    room = await two_participants(browser, room_server, page_errors, topic="Camera and microphone")
    mentor, mentee = room.mentor, room.mentee
    url = room_url(room_server, room.session_id)
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
    overlay = mentee.locator("#remote-overlay")
    mic_mark = mentee.get_by_role("img", name="microphone off")
    await expect(overlay).to_be_hidden()
    await expect(mic_mark).to_be_hidden()

    await mentor.get_by_role("button", name="Camera off").click()
    await expect(overlay).to_be_visible()
    await expect(mentee.locator("#remote-status")).to_have_text("Camera off")
    await expect(overlay.locator(".avatar")).to_be_visible()
    await mentor.get_by_role("button", name="Mute").click()
    await expect(mic_mark).to_be_visible()
    await DocShots(shots.folder)(mentee, "peer-camera-and-microphone-off")

    await mentor.get_by_role("button", name="Camera on").click()
    await expect(overlay).to_be_hidden()
    await mentor.get_by_role("button", name="Unmute").click()
    await expect(mic_mark).to_be_hidden()

    # A page loaded after the change learns it too (the other side answers its hello).
    await mentee.get_by_role("button", name="Camera off").click()
    await mentee.get_by_role("button", name="Mute").click()
    await mentor.reload()
    await expect(mentor.locator("#remote-status")).to_have_text("Camera off")
    await expect(mentor.get_by_role("img", name="microphone off")).to_be_visible()
    await room.leave()
    assert page_errors.messages == []
