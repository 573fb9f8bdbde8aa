"""Discover -> a mentor's public profile -> booking; the accessible names of card tag lists and
of the slot list; and what a mentee reads when the time they chose was just taken."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta

from playwright.async_api import Browser, Page, expect

from store.models import MentoringProfile, Profile, Session
from tests.browser.support import LiveServer, PageErrors, Shots, new_context
from web.auth import COOKIE_NAME, session_token_for

MENTOR = "rosa.mentor@example.org"
MENTEE = "tom.mentee@example.org"
RIVAL = "eve.mentee@example.org"
VIDEO = "https://videos.example.org/rosa-intro"


async def add_mentor(server: LiveServer) -> None:
    await server.store.save_profile(
        Profile(
            email=MENTOR,
            name="Rosa Mentor",
            time_zone="UTC",
            mentoring=MentoringProfile(
                enabled=True,
                bio="Data engineer for ten years; I help people move into data work.",
                expertise=("Data", "SQL"),
                languages=("English", "Portuguese"),
                video_intro_url=VIDEO,
                goals="Land your first data job.",
                hourly_rate=0,
            ),
        )
    )
    await server.store.ensure_profile(RIVAL, "Eve")


async def signed_in_page(browser: Browser, server: LiveServer, errors: PageErrors) -> Page:
    context = await new_context(browser, errors, time_zone="UTC")
    token = session_token_for(server.app, MENTEE)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    return await context.new_page()


async def test_discover_leads_to_the_public_profile_then_booking(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    await add_mentor(live_server)
    page = await signed_in_page(browser, live_server, page_errors)
    await page.goto(live_server.url + "/mentoring/discover")
    card = page.locator(".mentor-card", has_text="Rosa Mentor")
    await expect(card).to_be_visible()
    # The card's tags are named for the mentor, not like the filter field.
    await expect(page.get_by_role("list", name="Expertise of Rosa Mentor")).to_be_visible()
    await expect(page.get_by_label("Expertise", exact=True)).to_have_count(1)
    await expect(page.get_by_label("Expertise", exact=True)).to_have_attribute("name", "expertise")
    await shots(page, "discover-cards")

    await card.get_by_role("link", name="About Rosa Mentor").click()
    await expect(page).to_have_url(
        re.compile(r"/mentoring/mentors/rosa\.mentor(%40|@)example\.org$")
    )
    await expect(page.get_by_role("heading", level=1, name="Rosa Mentor")).to_be_visible()
    await expect(page.get_by_text("Data engineer for ten years")).to_be_visible()
    await expect(page.get_by_role("list", name="Expertise")).to_contain_text("SQL")
    await expect(page.locator(".facts")).to_contain_text("English, Portuguese")
    await expect(page.locator(".facts .rate")).to_have_text("Free")
    await expect(page.get_by_text("Land your first data job.")).to_be_visible()
    video = page.get_by_role("link", name=re.compile("intro video"))
    await expect(video).to_have_attribute("href", VIDEO)
    await expect(page.locator("[data-availability-summary]")).to_be_visible()
    await shots(page, "mentor-profile")

    await page.get_by_role("link", name="Book a session with Rosa Mentor").click()
    await expect(
        page.get_by_role("heading", name="Book a session with Rosa Mentor")
    ).to_be_visible()
    # One group for the time choice: the fieldset named by its legend, not a second inside.
    await expect(page.get_by_role("group", name=re.compile(r"^Time"))).to_have_count(1)
    assert page_errors.messages == []


async def test_unknown_or_disabled_mentors_are_404(
    live_server: LiveServer, browser: Browser, page_errors: PageErrors
) -> None:
    await add_mentor(live_server)
    await live_server.store.ensure_profile("quiet@example.org", "Quiet")
    page = await signed_in_page(browser, live_server, page_errors)
    for who in ("nobody@example.org", "quiet@example.org", "not-an-address"):
        response = await page.goto(f"{live_server.url}/mentoring/mentors/{who}")
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()


async def open_day(page: Page, day: date) -> None:
    button = page.locator(f'button.day[data-day="{day.isoformat()}"]')
    if not await button.count():
        await page.get_by_role("button", name="Next month").click()
    await expect(button).to_be_enabled()
    await button.click()


async def test_a_time_taken_meanwhile_says_so(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    await add_mentor(live_server)
    page = await signed_in_page(browser, live_server, page_errors)
    await page.goto(f"{live_server.url}/mentoring/book/{MENTOR}")
    day = datetime.now(UTC).date() + timedelta(days=3)
    while day.weekday() >= 5:  # a new mentor's default hours leave weekends off
        day += timedelta(days=1)
    start = datetime.combine(day, time(10, 0), tzinfo=UTC)
    await open_day(page, day)
    slot = page.locator(f'button.slot[data-start="{start.isoformat().replace("+00:00", ".000Z")}"]')
    await slot.click()
    await page.get_by_label("Duration").select_option("60")
    await page.get_by_label("Topic").fill("Moving into data work")
    # Someone else books the same time while the page is open.
    await live_server.store.create_session(
        Session(uuid.uuid4().hex, MENTOR, RIVAL, start, 60, "Quicker booking")
    )
    await page.get_by_role("button", name="Book Session").click()
    summary = page.locator("#book-summary")
    await expect(summary).to_have_text("Sorry, that time was just taken. Please pick another time.")
    await expect(page.locator("#scheduledAt-error")).to_contain_text("just taken")
    # The free times were fetched again: the taken one is no longer offered.
    await expect(slot).to_have_count(0)
    await expect(page).to_have_url(re.compile(r"/mentoring/book/"))
    await shots(page, "booking-time-taken")
    assert page_errors.messages == []
