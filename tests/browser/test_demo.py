"""`panamia demo` data: a newcomer signs in to a populated app."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from panamia.demo import BOOKINGS, MENTEES, MENTORS, seed_demo
from store.base import DiscoverQuery
from store.models import Profile
from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

pytestmark = pytest.mark.browser


async def test_demo_data_fills_an_empty_store_once(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    store = live_server.store
    summary = await seed_demo(store)
    assert f"{len(MENTORS)} mentors" in summary
    assert (await store.discover(DiscoverQuery())).total == len(MENTORS)
    assert await seed_demo(store) == ""  # never twice
    assert (await store.discover(DiscoverQuery())).total == len(MENTORS)

    mentee = next(p for p in MENTEES if p.email.startswith("priya"))
    context = await new_context(browser, page_errors, time_zone="Europe/London")
    page = await context.new_page()
    await sign_in(page, live_server, mentee.email, "/mentoring/sessions", shots, "demo")
    mine = [b for b in BOOKINGS if b.mentee == mentee.email]
    upcoming = [b for b in mine if b.days_from_today > 0 and not b.cancel_reason]
    await expect(page.get_by_test_id("user-name")).to_have_text(mentee.name)
    await expect(page.locator("#upcoming-list .session")).to_have_count(len(upcoming))
    await expect(page.locator("#past-list .session")).to_have_count(len(mine) - len(upcoming))
    await expect(page.locator("#past-list .badge--cancelled")).to_have_count(1)
    await expect(page.locator("#past-list .session__notes")).to_have_count(1)
    await shots(page, "demo-sessions")

    await page.get_by_role("link", name="Discover").click()
    await expect(page.locator(".mentor-card")).to_have_count(len(MENTORS))
    await expect(page.locator(".mentor-card img.avatar")).to_have_count(
        sum(1 for m in MENTORS if m.avatar_url)
    )
    await shots(page, "demo-discover")
    await (
        page.locator(".mentor-card", has_text="Kenji")
        .get_by_role("link", name=re.compile("^Book Session"))
        .click()
    )
    # The first day with free times is chosen, and its times are listed.
    first_free = page.locator("button.day[aria-pressed=true]")
    await expect(first_free).to_have_attribute("aria-label", re.compile(r"free times?\)$"))
    await expect(page.locator("#slots button.slot").first).to_be_visible()
    await shots(page, "demo-booking")
    # The calendar is a grid the arrow keys move through.
    await first_free.focus()
    await page.keyboard.press("ArrowDown")
    week_later = page.locator("button.day:focus")
    await expect(week_later).to_have_attribute("tabindex", "0")
    await expect(week_later).not_to_have_attribute("aria-current", "date")
    key = await week_later.get_attribute("data-day")
    await expect(page.locator(".calendar__grid")).to_have_attribute("aria-busy", "false")
    await page.keyboard.press("Enter")
    chosen = page.locator(f'button.day[data-day="{key}"]')
    await expect(chosen).to_have_attribute("aria-pressed", "true")
    await expect(chosen).to_be_focused()

    await page.get_by_role("link", name="Profile").click()
    await expect(page.get_by_text("Not enabled")).to_be_visible()
    await shots(page, "demo-profile-mentee")
    await context.close()

    mentor = MENTORS[0]
    context = await new_context(browser, page_errors, time_zone="America/New_York")
    page = await context.new_page()
    await sign_in(page, live_server, mentor.email, "/mentoring/profile", shots, "demo-mentor")
    await expect(page.get_by_role("heading", name=mentor.name)).to_be_visible()
    await shots(page, "demo-profile-mentor")
    await context.close()
    assert page_errors.messages == []


async def test_demo_leaves_a_store_in_use_alone(live_server: LiveServer) -> None:
    store = live_server.store
    await store.save_profile(Profile(email="someone@example.org", name="Someone"))
    await store.ensure_profile(MENTORS[0].email)
    assert await seed_demo(store) == ""
    assert (await store.discover(DiscoverQuery())).total == 0
