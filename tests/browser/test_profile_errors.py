"""Invalid profile input: the form marks each field, and the API rejects the same values."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

pytestmark = pytest.mark.browser

EMAIL = "dana.errors@example.org"

# field -> (value the form gets, what the API gets for the same mistake)
BAD_VALUES = {
    "bio": {"enabled": True, "bio": "Too short", "expertise": ["Go"], "languages": ["English"]},
    "expertise": {"expertise": []},
    "languages": {
        "enabled": True,
        "bio": "Long enough bio here.",
        "expertise": ["Go"],
        "languages": [],
    },
    "videoIntroUrl": {"videoIntroUrl": "youtube dot com/me"},
    "hourlyRate": {"hourlyRate": -5},
}


async def test_invalid_profile_input_shows_field_errors(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    server = live_server
    context = await new_context(browser, page_errors, time_zone="Europe/Lisbon")
    page = await context.new_page()
    await sign_in(page, server, EMAIL, "/mentoring/profile/edit", shots, "user")

    await page.get_by_label("Enable mentoring profile").check()
    await page.get_by_label("Bio").fill("Too short")
    await expect(page.locator("#bio-count")).to_have_text("9 / 500 characters · 1 more needed")
    await page.get_by_label("Intro video URL").fill("youtube dot com/me")
    await page.get_by_label("Hourly rate in USD").fill("-5")
    await page.get_by_role("button", name="Save profile").click()

    shown: dict[str, str] = {}
    for field in BAD_VALUES:
        error = page.locator(f'[data-field="{field}"] .field__error')
        await expect(error).not_to_be_empty()
        shown[field] = (await error.text_content() or "").strip()
        await expect(page.locator(f'[data-field="{field}"]')).to_have_class(
            re.compile("field--invalid")
        )
    await expect(page.get_by_role("alert").first).to_have_text(
        f"Please fix the {len(BAD_VALUES)} problems marked below."
    )
    # Focus moves to the first field with a problem.
    await expect(page.get_by_label("Bio")).to_be_focused()
    await expect(page).to_have_url(re.compile(r"/mentoring/profile/edit$"))
    await shots(page, "profile-field-errors")

    # The API enforces the same rules with the same words, naming the same fields.
    for field, body in BAD_VALUES.items():
        response = await page.request.patch(f"{server.url}/api/mentoring/profile", data=body)
        assert response.status == 400, (field, await response.text())
        answer = await response.json()
        assert answer["field"] == field
        assert answer["error"] == shown[field]

    # A rule only the server checks still lands next to its field.
    await page.get_by_label("Bio").fill("I review Go services and help with interviews.")
    await page.get_by_label(re.compile(r"^Expertise \(required\)$")).fill("Go")
    await page.get_by_label(re.compile(r"^Expertise \(required\)$")).press("Enter")
    await page.get_by_label(re.compile(r"^Languages \(required\)$")).fill("Portuguese")
    await page.get_by_label(re.compile(r"^Languages \(required\)$")).press("Enter")
    await page.get_by_label("Intro video URL").fill("")
    await page.get_by_label("Hourly rate in USD").fill("25")
    await page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.locator("#timeZone-error")).to_contain_text("Unknown time zone")
    await expect(page.locator("#bio-error")).to_be_empty()
    await shots(page, "profile-server-error")

    await page.get_by_role("button", name="Use this device's time zone").click()
    await expect(page.get_by_label("Time zone")).to_have_value("Europe/Lisbon")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page).to_have_url(re.compile(r"/mentoring/profile\?saved=1$"))
    await expect(page.get_by_text("$25/hour")).to_be_visible()
    stored = await server.store.get_profile(EMAIL)
    assert stored is not None
    assert stored.time_zone == "Europe/Lisbon"
    assert stored.mentoring.expertise == ("Go",)

    await context.close()
    assert page_errors.messages == []
