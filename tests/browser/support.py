"""Helpers for the browser journeys: the live server handle, screenshots, page-error
watching and the on-page sign-in."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from bench.chromium import CHROMIUM as CHROMIUM
from bench.chromium import LAUNCH_ARGS as LAUNCH_ARGS
from store.base import Store
from web import keys


@dataclass
class LiveServer:
    url: str
    app: web.Application

    @property
    def store(self) -> Store:
        return self.app[keys.STORE]


@dataclass
class Shots:
    """Full-page screenshots of a journey, numbered in the order they were taken."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    async def __call__(self, page: Page, label: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{label}.png"
        # From the top, so the sticky header sits where a visitor sees it.
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@dataclass
class PageErrors:
    """Script errors seen by every page of a test; a journey ends by asserting none."""

    messages: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("page", self._watch_page)

    def _watch_page(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.messages.append(f"{page.url}: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every 4xx answer as "Failed to load resource"; a form the server
        # rejects is expected to produce those. Only script errors count.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.messages.append(message.text)


async def new_context(
    browser: Browser, errors: PageErrors, *, time_zone: str, width: int = 1280, height: int = 900
) -> BrowserContext:
    """A separate browser profile (its own cookies) in a given time zone."""
    context = await browser.new_context(
        timezone_id=time_zone,
        locale="en-US",
        viewport={"width": width, "height": height},
    )
    context.set_default_timeout(10_000)
    errors.watch(context)
    return context


async def sign_in(
    page: Page, server: LiveServer, email: str, start_path: str, shots: Shots, label: str
) -> None:
    """Visit a protected page signed out, sign in with the on-page link, land back there."""
    await page.goto(server.url + start_path)
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    await expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    await shots(page, f"{label}-signin-link-sent")
    await page.get_by_role("link", name="Sign in now").click()
    await expect(page).to_have_url(re.compile(re.escape(start_path) + "$"))


async def close_within(closing: Coroutine[Any, Any, None], timeout_s: float) -> None:
    """Wait at most ``timeout_s`` for a Playwright close. Not with ``wait_for``: a cancelled
    Playwright call can itself wait forever for the browser's answer."""
    task = asyncio.ensure_future(closing)
    done, _pending = await asyncio.wait({task}, timeout=timeout_s)
    if task in done:
        with contextlib.suppress(Exception):
            task.result()
