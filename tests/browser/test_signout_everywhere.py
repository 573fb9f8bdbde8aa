"""The profile page's "Sign out everywhere" ends the sign-in on every browser of the person."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

EMAIL = "rosa@example.org"


async def test_sign_out_everywhere_from_the_profile_page(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    laptop = await new_context(browser, page_errors, time_zone="UTC")
    phone = await new_context(browser, page_errors, time_zone="UTC")
    laptop_page, phone_page = await laptop.new_page(), await phone.new_page()
    await sign_in(laptop_page, live_server, EMAIL, "/mentoring/profile", shots, "laptop")
    await sign_in(phone_page, live_server, EMAIL, "/mentoring/profile", shots, "phone")

    await phone_page.get_by_role("button", name="Sign out everywhere").click()
    await expect(phone_page).to_have_url(re.compile(r"/signin\?signedout=1$"))
    await shots(phone_page, "signed-out-everywhere")

    await laptop_page.goto(live_server.url + "/mentoring/profile")
    await expect(laptop_page).to_have_url(re.compile(r"/signin"))
    await laptop.close()
    await phone.close()
