"""Two people meet through the app: profile, discovery, booking, both dashboards, cancel."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.support import LiveServer, PageErrors, Shots, new_context, sign_in

pytestmark = pytest.mark.browser

MENTOR = "ana.mentor@example.org"
MENTEE = "bruno.mentee@example.org"
OUTSIDER = "carla.outsider@example.org"
MENTEE_ZONE = "America/Bogota"  # UTC-5 all year: the mentor's 09:00 UTC is 04:00 here
TOPIC = "Moving from accounting into data science"
REASON = "A family emergency came up; can we book next week instead?"


def js_iso(moment: datetime) -> str:
    """How Date.prototype.toISOString writes a UTC instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def fill_tags(page: Page, label: str, tags: list[str]) -> None:
    field = page.get_by_label(re.compile(rf"^{label}( \(required\))?$"))
    for tag in tags:
        await field.fill(tag)
        await field.press("Enter")


async def set_up_mentor_profile(page: Page, server: LiveServer, shots: Shots) -> None:
    await page.get_by_role("link", name="Edit profile").click()
    await expect(page.get_by_role("heading", name="Edit profile")).to_be_visible()
    await page.get_by_label("Display name").fill("Ana Mentor")
    await page.get_by_label("Time zone").fill("UTC")
    await page.get_by_label("Enable mentoring profile").check()
    bio = page.get_by_label("Bio")
    await bio.fill("Data scientist who moved from accounting. I help career changers ")
    await expect(page.locator("#bio-count")).to_have_text(re.compile(r"^6\d / 500 characters$"))
    await bio.press_sequentially("into data.")
    await fill_tags(page, "Expertise", ["Python", "Career Growth", "python"])
    await expect(page.locator("[data-tag-input=expertise] .tag")).to_have_count(2)
    await fill_tags(page, "Languages", ["English", "Spanish"])
    await page.get_by_label("Intro video URL").fill("https://video.example.org/ana-intro")
    await page.get_by_label("Goals").fill("Help five people land their first data job.")
    await page.get_by_label("Hourly rate in USD").fill("0")
    await shots(page, "mentor-profile-edit")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page).to_have_url(re.compile(r"/mentoring/profile\?saved=1$"))
    await expect(page.get_by_role("status")).to_contain_text("saved")
    await expect(page.get_by_text("Enabled", exact=True)).to_be_visible()
    await expect(page.locator(".tag", has_text="Career Growth")).to_be_visible()
    await expect(page.get_by_test_id("user-name")).to_have_text("Ana Mentor")
    await shots(page, "mentor-profile-view")


async def find_mentor(page: Page, shots: Shots) -> None:
    await page.get_by_role("link", name="Discover").click()
    await expect(page.get_by_role("heading", name="Discover mentors")).to_be_visible()
    await page.get_by_role("searchbox", name="Expertise").fill("career")
    await page.get_by_role("searchbox", name="Language").fill("german")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile("No mentors match"))
    await page.get_by_role("searchbox", name="Language").fill("span")
    await page.get_by_label("Free sessions only").check()
    await page.get_by_role("button", name="Search").click()
    card = page.locator(".mentor-card", has_text="Ana Mentor")
    await expect(card).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("1 mentor found")
    await expect(card.locator(".rate")).to_have_text("Free")
    await expect(card).to_contain_text("English, Spanish")
    await expect(card.locator(".avatar")).to_have_text("AM")
    await expect(page).to_have_url(re.compile(r"expertise=career&language=span&freeOnly=true"))
    await shots(page, "mentee-discover")
    await card.get_by_role("link", name=re.compile("^Book Session")).click()
    await expect(page.get_by_role("heading", name="Book a session with Ana Mentor")).to_be_visible()


async def open_day(page: Page, day: date) -> None:
    button = page.locator(f'button.day[data-day="{day.isoformat()}"]')
    if not await button.count():
        await page.get_by_role("button", name="Next month").click()
    # A day can be chosen once the month's free times have arrived.
    await expect(button).to_be_enabled()
    await button.click()


async def book(page: Page, day: date, start: datetime, shots: Shots) -> None:
    await expect(page.locator("button.day[aria-current=date]")).to_be_visible()
    await open_day(page, day)
    slot = page.locator(f'button.slot[data-start="{js_iso(start)}"]')
    # 09:00 UTC is 04:00 in Bogota: the mentor's hours converted to the viewer's zone.
    await expect(slot).to_have_text("04:00 AM")
    slots = page.locator("button.slot")
    # Only the server's free starts: with the default hour-long duration the last one is
    # 16:00 UTC, which ends at 17:00.
    await expect(slots).to_have_count(15)
    await expect(slots.first).to_have_text("04:00 AM")
    await expect(slots.last).to_have_text("11:00 AM")
    await page.get_by_role("button", name="Book Session").click()
    await expect(page.locator("#scheduledAt-error")).to_have_text("Choose a start time.")
    await expect(page.locator("#topic-error")).to_contain_text("Topic must be 5 to 200")
    await slot.click()
    await expect(slot).to_have_attribute("aria-pressed", "true")
    await page.get_by_label("Duration").select_option("60")
    await page.get_by_label("Topic").fill(TOPIC)
    await expect(page.locator("#topic-count")).to_have_text(f"{len(TOPIC)} / 200 characters")
    await expect(page.locator("#book-choice")).to_contain_text("for Ana Mentor (UTC)")
    await shots(page, "mentee-booking")
    await page.get_by_role("button", name="Book Session").click()
    await expect(page).to_have_url(re.compile(r"/mentoring/sessions\?booked=1$"))


async def test_two_people_book_and_cancel_a_session(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    server = live_server
    mentor_ctx = await new_context(browser, page_errors, time_zone="UTC")
    mentee_ctx = await new_context(browser, page_errors, time_zone=MENTEE_ZONE, width=430)
    mentor = await mentor_ctx.new_page()
    mentee = await mentee_ctx.new_page()

    await mentor.goto(server.url + "/")
    await expect(mentor.get_by_role("link", name="Sign in to get started")).to_be_visible()
    await shots(mentor, "landing")

    # Both sign in with the link shown on the page, starting from a protected page.
    await sign_in(mentor, server, MENTOR, "/mentoring/profile", shots, "mentor")
    await sign_in(mentee, server, MENTEE, "/mentoring/sessions", shots, "mentee")
    await expect(mentee.get_by_text("No upcoming sessions")).to_be_visible()

    await set_up_mentor_profile(mentor, server, shots)
    await find_mentor(mentee, shots)

    # Three days ahead in the mentee's zone (or the Monday after, since a new mentor's hours
    # leave weekends off), at 09:00 UTC: the mentor's first bookable slot.
    day = datetime.now(ZoneInfo(MENTEE_ZONE)).date() + timedelta(days=3)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(9, 0), tzinfo=UTC)
    await book(mentee, day, start, shots)

    upcoming = mentee.locator("#upcoming-list .session")
    await expect(upcoming).to_have_count(1)
    await expect(upcoming).to_contain_text(TOPIC)
    await expect(upcoming).to_contain_text("Mentor: Ana Mentor")
    await expect(upcoming).to_contain_text("04:00 AM\u201305:00 AM")
    await expect(upcoming.get_by_role("button", name="Join")).to_be_disabled()
    await shots(mentee, "mentee-sessions-booked")

    # The time is no longer offered to the mentee; the next hour still is.
    await mentee.goto(f"{server.url}/mentoring/book/{MENTOR}")
    await open_day(mentee, day)
    after = start + timedelta(hours=1)
    await expect(mentee.locator(f'button.slot[data-start="{js_iso(after)}"]')).to_be_visible()
    await expect(mentee.locator(f'button.slot[data-start="{js_iso(start)}"]')).to_have_count(0)

    # The mentor sees it too, in their own zone.
    await mentor.get_by_role("link", name="My Sessions").click()
    mine = mentor.locator("#upcoming-list .session")
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text(TOPIC)
    await expect(mine).to_contain_text("Mentee: Bruno Mentee")
    await expect(mine).to_contain_text("09:00 AM\u201310:00 AM")
    await shots(mentor, "mentor-sessions-upcoming")

    # Join opens ten minutes before the start and closes at the end.
    await mentor.clock.set_fixed_time(start - timedelta(minutes=11))
    await mentor.reload()
    await expect(mine.get_by_role("button", name="Join")).to_be_disabled()
    await mentor.clock.set_fixed_time(start - timedelta(minutes=9))
    await mentor.reload()
    join = mine.get_by_role("link", name="Join")
    await expect(join).to_be_enabled()
    await shots(mentor, "mentor-sessions-join-open")
    await join.click()
    # Only the browser's clock was moved: by the server's, the session is days away, so the
    # room says when it opens instead of starting a call.
    await expect(mentor.get_by_role("heading", name="The room is not open yet")).to_be_visible()
    await expect(mentor.get_by_text(TOPIC)).to_be_visible()
    await shots(mentor, "mentor-session-room-not-open")

    # The mentee cancels; a reason is required.
    await mentee.get_by_role("link", name="My Sessions").click()
    await mentee.get_by_role("button", name=re.compile("^Cancel session:")).click()
    dialog = mentee.get_by_role("dialog", name="Cancel this session?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel session").click()
    await expect(dialog.locator("#reason-error")).to_contain_text("Please give a reason")
    await dialog.get_by_label("Reason").fill(REASON)
    await shots(mentee, "mentee-cancel-dialog")
    await dialog.get_by_role("button", name="Cancel session").click()
    await expect(dialog).to_be_hidden()
    past = mentee.locator("#past-list .session")
    await expect(past).to_have_count(1)
    await expect(past).to_contain_text(f"Cancelled by you: {REASON}")
    await expect(mentee.get_by_text("No upcoming sessions")).to_be_visible()
    await shots(mentee, "mentee-sessions-cancelled")

    # The mentor sees the reason under Past.
    await mentor.clock.set_fixed_time(datetime.now(UTC))
    await mentor.goto(f"{server.url}/mentoring/sessions")
    past = mentor.locator("#past-list .session")
    await expect(past).to_have_count(1)
    await expect(past.locator(".badge")).to_have_text("Cancelled")
    await expect(past).to_contain_text(f"Cancelled by Bruno Mentee: {REASON}")
    await shots(mentor, "mentor-sessions-past")
    await past.get_by_role("link", name=re.compile("^View Session Details")).click()
    await expect(mentor.locator(".reason")).to_have_text(REASON)
    await shots(mentor, "mentor-session-details")
    session_url = mentor.url

    # Nobody else may open the session.
    outsider_ctx = await new_context(browser, page_errors, time_zone="Europe/Madrid")
    outsider = await outsider_ctx.new_page()
    await sign_in(outsider, server, OUTSIDER, "/mentoring/discover", shots, "outsider")
    await expect(outsider.locator(".mentor-card")).to_have_count(1)
    response = await outsider.goto(session_url)
    assert response is not None and response.status == 403
    await expect(outsider.get_by_role("heading", name="Access denied")).to_be_visible()
    await shots(outsider, "outsider-access-denied")

    # Signing out ends the session: protected pages send the visitor to sign-in again.
    await mentor.get_by_role("button", name="Sign out").click()
    await expect(mentor).to_have_url(re.compile(r"/signin\?signedout=1$"))
    await mentor.goto(f"{server.url}/mentoring/sessions")
    await expect(mentor).to_have_url(re.compile(r"/signin\?next=(/|%2F)mentoring(/|%2F)sessions$"))

    for context in (mentor_ctx, mentee_ctx, outsider_ctx):
        await context.close()
    assert page_errors.messages == []
