"""A device that reports an old zone name (Chromium says Asia/Calcutta) saves the canonical
one (Asia/Kolkata)."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

EMAIL = "priya@example.org"


async def test_the_device_zone_is_saved_by_its_canonical_name(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    context = await new_context(browser, page_errors, time_zone="Asia/Calcutta")
    page = await context.new_page()
    await sign_in(page, live_server, EMAIL, "/mentoring/profile/edit", shots, "user")
    reported = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert reported in ("Asia/Calcutta", "Asia/Kolkata")
    await page.get_by_role("button", name=re.compile("Use this device's time zone")).click()
    await expect(page.get_by_label("Time zone")).to_have_value(reported)
    await page.get_by_role("button", name="Save profile").click()
    await expect(page).to_have_url(re.compile(r"/mentoring/profile(\?.*)?$"))
    stored = await live_server.store.get_profile(EMAIL)
    assert stored is not None and stored.time_zone == "Asia/Kolkata"
    await context.close()
