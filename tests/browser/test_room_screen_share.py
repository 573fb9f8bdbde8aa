"""Screen sharing in real Chromium with its fake screen (the size of the window; the camera is
640x480): the
receiving side decodes the screen at the screen's size, then the camera again after Stop
sharing, on a direct call and through the media relay, without a reload; the path badge stays
right throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.room_support import (
    FRAMES,
    MENTEE,
    MENTOR,
    book_session,
    eventually,
    leave_and_close,
    room_url,
    running_server,
    signed_in_context,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors, Shots
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.browser

CAMERA = (640, 480)
SCREEN_SIZE = """() => { const s = panamiaRoom.screenShare.track?.getSettings();
  return s ? [s.width, s.height] : null; }"""


@pytest.fixture
async def room_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    def settings_for(url: str, port: int):  # type: ignore[no-untyped-def]
        return make_settings(http={"host": "127.0.0.1", "port": port, "public_url": url})

    async with running_server(settings_for) as server:
        yield server


async def decodes_at(page: Page, size: tuple[int, ...]) -> None:
    """The remote video is decoding new frames at ``size`` (the camera: any 4:3 size up to
    ``size``, since the sender may scale the camera down while its bandwidth estimate grows)."""
    width, height = size
    camera = size == CAMERA
    sized = page.wait_for_function(
        """([w, h, camera]) => { const v = document.querySelector('#remote-video');
          if (!camera) return v.videoWidth === w && v.videoHeight === h;
          return v.videoWidth > 0 && v.videoWidth <= w && v.videoWidth * 3 === v.videoHeight * 4;
        }""",
        arg=[width, height, camera],
        timeout=20_000,
    )
    try:
        await sized
    except Exception:
        seen = await page.evaluate(
            "() => { const v = document.querySelector('#remote-video');"
            " return [v.videoWidth, v.videoHeight]; }"
        )
        raise AssertionError(f"the remote video is {seen}, not {list(size)}") from None
    frames = await page.evaluate(FRAMES)
    await page.wait_for_function(f"() => ({FRAMES})() > {frames} + 5", timeout=20_000)


async def decodes_the_screen(viewer: Page, presenter: Page) -> None:
    """The viewer decodes the presenter's screen at the size the capture reports (which
    settles a moment after sharing starts)."""

    async def same_size() -> bool:
        screen = await presenter.evaluate(SCREEN_SIZE)
        seen = await viewer.evaluate(
            "() => { const v = document.querySelector('#remote-video');"
            " return [v.videoWidth, v.videoHeight]; }"
        )
        return bool(screen and screen == seen and tuple(screen) != CAMERA)

    assert await eventually(same_size, timeout_s=20), "the screen never arrived at its size"
    await decodes_at(viewer, tuple(await presenter.evaluate(SCREEN_SIZE)))


@pytest.mark.parametrize(
    ("query", "path"), [("?relay=never", "direct"), ("?relay=always", "relay")]
)
async def test_the_other_side_sees_the_shared_screen_then_the_camera(
    browser: Browser,
    room_server: LiveServer,
    page_errors: PageErrors,
    shots: Shots,
    query: str,
    path: str,
) -> None:
    session_id = await book_session(room_server, topic="Screen sharing")
    url = room_url(room_server, session_id, query)
    mentor_ctx = await signed_in_context(browser, room_server, page_errors, MENTOR)
    mentee_ctx = await signed_in_context(browser, room_server, page_errors, MENTEE)
    mentor = await mentor_ctx.new_page()
    mentee = await mentee_ctx.new_page()
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page, timeout_ms=30_000)
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", path)
    await decodes_at(mentee, CAMERA)

    share = mentor.get_by_role("button", name="Share screen")
    await share.click()
    await expect(mentor.get_by_role("button", name="Stop sharing")).to_be_visible()
    await expect(mentor.locator("#share-notice")).to_be_visible()
    await decodes_the_screen(mentee, mentor)
    await expect(mentee.locator("#peer-presenting")).to_have_text("Ana Ruiz is presenting")
    await expect(mentee.locator("#remote-overlay")).to_be_hidden()
    await expect(mentee.locator("#path-badge")).to_have_attribute("data-path", path)
    await expect(mentor.locator("#path-badge")).to_have_attribute("data-path", path)
    await shots(mentee, f"{path}-viewer-sees-the-screen")
    await shots(mentor, f"{path}-presenter")

    # The camera turned off while presenting does not hide the screen.
    await mentor.get_by_role("button", name="Camera off").click()
    await expect(mentee.locator("#remote-overlay")).to_be_hidden()
    await mentor.get_by_role("button", name="Camera on").click()

    await mentor.get_by_role("button", name="Stop sharing").click()
    await expect(share).to_be_visible()
    await decodes_at(mentee, CAMERA)
    await expect(mentee.locator("#peer-presenting")).to_be_hidden()
    await expect(mentee.locator("#path-badge")).to_have_attribute("data-path", path)

    # The browser's own "Stop sharing" ends the track: the camera comes back too.
    await share.click()
    await decodes_the_screen(mentee, mentor)
    await mentor.evaluate("() => panamiaRoom.screenShare.track.dispatchEvent(new Event('ended'))")
    await decodes_at(mentee, CAMERA)
    await expect(mentor.get_by_role("button", name="Share screen")).to_be_visible()
    await leave_and_close(mentor_ctx, mentee_ctx)
    assert page_errors.messages == []
