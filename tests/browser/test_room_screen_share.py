"""Screen sharing in real Chromium with its fake screen (the size of the window; the camera is
640x480): the
receiving side decodes the screen at the screen's size, then the camera again after Stop
sharing, on a direct call and through the media relay, without a reload; the path badge stays
right throughout.

Set PANAMIA_SCREENSHOTS_DIR=docs/images/room to refresh the docs' screenshots."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from config.loader import build_settings
from tests.browser.room_support import (
    FRAMES,
    MENTEE,
    MENTOR,
    book_session,
    eventually,
    leave_and_close,
    room_url,
    serving_room,
    signed_in_context,
    wait_for_remote_video,
)
from tests.browser.scheduling_support import DocShots
from tests.browser.support import LiveServer, PageErrors, Shots
from tests.conftest import SettingsFactory
from tests.support.procs import find_tool, free_port, running
from turn.render import render_config

pytestmark = pytest.mark.browser

CAMERA = (640, 480)
SCREEN_SIZE = """() => { const s = panamiaRoom.screenShare.track?.getSettings();
  return s ? [s.width, s.height] : null; }"""


TURN_SECRET = "screen-share-turn-secret"
# Every peer connection of the page gathers TURN relay candidates only: the call goes through
# coturn (a test-only constraint; the app itself lets ICE choose).
TURN_ONLY = """(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config) {
    return new Native({ ...(config || {}), iceTransportPolicy: "relay" });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();"""


@pytest.fixture
def turn_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """coturn on a free loopback port for the TURN case; nothing for the others."""
    if request.node.callspec.params["path"] != "turn":
        yield {}
        return
    binary = find_tool("turnserver")
    if binary is None:
        pytest.skip("coturn is not installed (CI installs it: apt-get install coturn)")
    port = free_port()
    relay_min = random.randrange(50000, 59000, 100)
    values: dict[str, Any] = {
        "uris": [f"turn:127.0.0.1:{port}?transport=udp"],
        "shared_secret": TURN_SECRET,
        "ttl_s": 600,
        "listening_port": port,
        "listening_ips": ["127.0.0.1"],
        "relay_ips": ["127.0.0.1"],
        "relay_min_port": relay_min,
        "relay_max_port": relay_min + 40,
        "log_file": str(tmp_path / "turn.log"),
        "pidfile": str(tmp_path / "turn.pid"),
        "userdb": str(tmp_path / "turndb"),
    }
    config = tmp_path / "turnserver.conf"
    config.write_text(
        render_config(build_settings({"turn": values}).turn, allow_loopback_peers=True)
    )
    with running([binary, "-c", str(config)], port):
        yield values


@pytest.fixture
async def room_server(
    make_settings: SettingsFactory, turn_settings: dict[str, Any]
) -> AsyncIterator[LiveServer]:
    extra = {"turn": turn_settings} if turn_settings else {}
    async with serving_room(make_settings, **extra) as server:
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
    ("query", "path"),
    [("?relay=never", "direct"), ("?relay=never", "turn"), ("?relay=always", "relay")],
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
    if path == "turn":
        for context in (mentor_ctx, mentee_ctx):
            await context.add_init_script(TURN_ONLY)
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
    # The presenter's camera is on: it is drawn small into the screen's picture.
    assert await mentor.evaluate("() => panamiaRoom.screenShare.sent !== null")
    await expect(mentee.locator("#peer-presenting")).to_have_text("Ana Ruiz is presenting")
    await expect(mentee.locator("#remote-overlay")).to_be_hidden()
    await expect(mentee.locator("#path-badge")).to_have_attribute("data-path", path)
    await expect(mentor.locator("#path-badge")).to_have_attribute("data-path", path)
    await shots(mentee, f"{path}-viewer-sees-the-screen")
    await shots(mentor, f"{path}-presenter")
    if path == "direct":
        doc_shots = DocShots(shots.folder)
        await doc_shots(mentee, "screen-share-viewer")
        await doc_shots(mentor, "screen-share-presenter")

    if path == "direct":
        # The camera turned off while presenting does not hide the screen.
        await mentor.get_by_role("button", name="Camera off").click()
        await expect(mentee.locator("#remote-overlay")).to_be_hidden()
        await mentor.get_by_role("button", name="Camera on").click()

    await mentor.get_by_role("button", name="Stop sharing").click()
    await expect(share).to_be_visible()
    await decodes_at(mentee, CAMERA)
    await expect(mentee.locator("#peer-presenting")).to_be_hidden()
    await expect(mentee.locator("#path-badge")).to_have_attribute("data-path", path)

    if path == "direct":
        # The browser's own "Stop sharing" ends the track: the camera comes back too.
        await share.click()
        await decodes_the_screen(mentee, mentor)
        await mentor.evaluate(
            "() => panamiaRoom.screenShare.track.dispatchEvent(new Event('ended'))"
        )
        await decodes_at(mentee, CAMERA)
        await expect(mentor.get_by_role("button", name="Share screen")).to_be_visible()
    await leave_and_close(mentor_ctx, mentee_ctx)
    assert page_errors.messages == []
