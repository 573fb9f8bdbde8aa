"""Helpers for the session-room journeys: a live server with the room page, booked sessions,
signed-in browser contexts and checks on the video elements."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page

from config.settings import Settings
from panamia.app import create_app
from store.models import Session
from tests.browser.support import LiveServer, PageErrors, close_within
from tests.conftest import SettingsFactory
from tests.support.procs import free_port
from tests.support.sessions import open_room_start
from web.auth import COOKIE_NAME, session_token_for

CONTEXT_CLOSE_TIMEOUT_S = 5.0

MENTOR = "ana.mentor@example.org"
MENTEE = "ben.mentee@example.org"
OUTSIDER = "carla.outsider@example.org"
NAMES = {MENTOR: "Ana Ruiz", MENTEE: "Ben Okafor", OUTSIDER: "Carla Diaz"}

REMOTE_DECODING = """() => {
  const video = document.querySelector('#remote-video');
  return Boolean(video) && video.videoWidth > 0
    && video.getVideoPlaybackQuality().totalVideoFrames > 0;
}"""

FRAMES = "() => document.querySelector('#remote-video').getVideoPlaybackQuality().totalVideoFrames"


@asynccontextmanager
async def running_server(settings_for: Callable[[str, int], Settings]) -> AsyncIterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runner = web.AppRunner(create_app(settings_for(url, port)), shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(url, runner.app)
    finally:
        await runner.cleanup()


def serving_room(
    make_settings: SettingsFactory, **sections: Any
) -> AbstractAsyncContextManager[LiveServer]:
    """:func:`running_server` with the app listening where it is told to, and ``sections``
    (``auth={...}``, ``relay={...}``) on top of the defaults."""

    def settings_for(url: str, port: int) -> Settings:
        return make_settings(
            http={"host": "127.0.0.1", "port": port, "public_url": url}, **sections
        )

    return running_server(settings_for)


def room_server_fixture(name: str, **sections: Any) -> Any:
    """A pytest fixture called ``name`` serving the app as :func:`serving_room` does; a test
    module declares ``room_server = room_server_fixture("room_server", relay={...})``."""

    async def serve(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
        async with serving_room(make_settings, **sections) as server:
            yield server

    return pytest.fixture(name=name)(serve)


async def book_session(server: LiveServer, topic: str = "Portfolio review") -> str:
    store = server.store
    for email, name in NAMES.items():
        await store.ensure_profile(email, name)
    session_id = uuid.uuid4().hex
    start = open_room_start()
    await store.create_session(
        Session(
            session_id=session_id,
            mentor_email=MENTOR,
            mentee_email=MENTEE,
            scheduled_at=start,
            duration=60,
            topic=topic,
        )
    )
    return session_id


def room_url(server: LiveServer, session_id: str, query: str = "") -> str:
    return f"{server.url}/mentoring/session/{session_id}{query}"


async def signed_in_context(
    browser: Browser, server: LiveServer, errors: PageErrors | None, email: str | None
) -> BrowserContext:
    """A browser profile holding ``email``'s session cookie (signed out for None)."""
    context = await browser.new_context(
        viewport={"width": 1360, "height": 900}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(15_000)
    if errors is not None:
        errors.watch(context)
    if email is not None:
        token = session_token_for(server.app, email)
        await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    return context


@dataclass(frozen=True)
class RoomPair:
    """A booked session with its mentor and mentee signed in, each with a blank page."""

    session_id: str
    mentor_ctx: BrowserContext
    mentee_ctx: BrowserContext
    mentor: Page
    mentee: Page

    async def leave(self) -> None:
        await leave_and_close(self.mentor_ctx, self.mentee_ctx)


async def two_participants(
    browser: Browser,
    server: LiveServer,
    errors: PageErrors | None,
    topic: str = "Portfolio review",
) -> RoomPair:
    """Book a session and sign its mentor and mentee in, each in a browser profile of their
    own with one page open (not yet in the room)."""
    session_id = await book_session(server, topic=topic)
    mentor_ctx = await signed_in_context(browser, server, errors, MENTOR)
    mentee_ctx = await signed_in_context(browser, server, errors, MENTEE)
    mentor = await mentor_ctx.new_page()
    mentee = await mentee_ctx.new_page()
    return RoomPair(session_id, mentor_ctx, mentee_ctx, mentor, mentee)


async def wait_for_remote_video(page: Page, timeout_ms: int = 20_000) -> None:
    """The other participant's video decodes frames, and keeps decoding."""
    await page.wait_for_function(REMOTE_DECODING, timeout=timeout_ms)
    frames = await page.evaluate(FRAMES)
    await page.wait_for_function(f"() => ({FRAMES})() > {frames}", timeout=timeout_ms)


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy (state outside the page)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await check()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def leave_and_close(*contexts: BrowserContext) -> None:
    """Close every page, then the contexts, each given a few seconds.

    After a call through the media relay, Chromium sometimes never answers a page or context
    close; the browser fixture's bounded close and the end of the Playwright block stop the
    browser, so nothing is left behind."""
    for context in contexts:
        for page in context.pages:
            await close_within(page.close(run_before_unload=False), CONTEXT_CLOSE_TIMEOUT_S)
    for context in contexts:
        await close_within(context.close(), CONTEXT_CLOSE_TIMEOUT_S)
