"""A newcomer on a local server: the Messages page shows what would have been mailed, and
the profile page makes, copies and revokes the private calendar feed address."""

from __future__ import annotations

import re

import aiohttp
import icalendar
import pytest
from playwright.async_api import Browser, expect

from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

pytestmark = pytest.mark.browser

PERSON = "nina.newcomer@example.org"


async def test_messages_page_and_calendar_feed_controls(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    context = await new_context(browser, page_errors, time_zone="Europe/Madrid")
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await sign_in(page, live_server, PERSON, "/mentoring/profile", shots, "newcomer")

    section = page.get_by_test_id("calendar-feed")
    await expect(section).to_contain_text("You have no feed address.")
    await expect(page.get_by_role("button", name="Revoke feed")).to_be_hidden()
    await page.get_by_role("button", name="Create feed address").click()
    field = page.get_by_label("Your feed address")
    await expect(field).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/calendar/.+\.ics$"))
    url = await field.input_value()
    await page.get_by_role("button", name="Copy address").click()
    await expect(page.locator("#feed-copied")).to_have_text(re.compile("Copied|copy it"))
    await shots(page, "profile-calendar-feed")
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as feed:
            assert feed.status == 200
            cal = icalendar.Calendar.from_ical(await feed.read())
            assert "METHOD" not in cal  # a subscribed calendar, not a scheduling message
        await page.get_by_role("button", name="Revoke feed").click()
        await expect(section).to_contain_text("Your feed is revoked")
        async with http.get(url) as gone:
            assert gone.status == 404

    await page.get_by_role("link", name="Messages").click()
    await expect(page.get_by_role("heading", name="Messages", exact=True)).to_be_visible()
    await expect(page.get_by_text("Your Pana Mia Live sign-in link")).to_be_visible()
    await shots(page, "messages-page")
    assert page_errors.messages == []
    await context.close()
