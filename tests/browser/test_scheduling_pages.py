"""The scheduling pages beyond the main journey: the mentor moves a session from its page,
a time taken while the reschedule dialog is open, the editor by keyboard with the server's
verdict at the weekday it names, and the booking calendar's arrow keys."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta

from playwright.async_api import Browser, Page, expect

from store.models import MentoringProfile, Profile, Session
from tests.browser.support import LiveServer, PageErrors, Shots, new_context
from tests.support.apiclient import future_day
from web.auth import COOKIE_NAME, session_token_for

MENTOR = "lena.mentor@example.org"
MENTEE = "omar.mentee@example.org"
RIVAL = "pia.rival@example.org"
TOPIC = "Reading query plans"


async def add_people(server: LiveServer) -> None:
    await server.store.save_profile(
        Profile(
            email=MENTOR,
            name="Lena Mentor",
            time_zone="UTC",
            mentoring=MentoringProfile(
                enabled=True,
                bio="Database engineer; I help people read and tune their queries.",
                expertise=("SQL",),
                languages=("English",),
                hourly_rate=0,
            ),
        )
    )
    await server.store.ensure_profile(MENTEE, "Omar Mentee")
    await server.store.ensure_profile(RIVAL, "Pia Rival")


async def page_of(browser: Browser, server: LiveServer, errors: PageErrors, email: str) -> Page:
    context = await new_context(browser, errors, time_zone="UTC")
    token = session_token_for(server.app, email)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    return await context.new_page()


def at(hour: int, minute: int = 0, days: int = 3) -> datetime:
    return datetime.combine(future_day(days), time(hour, minute), tzinfo=UTC)


def js_iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def book_directly(server: LiveServer, mentee: str, start: datetime, topic: str) -> str:
    session_id = uuid.uuid4().hex
    await server.store.create_session(Session(session_id, MENTOR, mentee, start, 60, topic))
    return session_id


async def test_the_mentor_moves_a_session_from_its_page(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    await add_people(live_server)
    await book_directly(live_server, MENTEE, at(10), TOPIC)
    page = await page_of(browser, live_server, page_errors, MENTOR)
    await page.goto(live_server.url + "/mentoring/sessions")
    await page.get_by_role("link", name=f"Session details: {TOPIC}").click()
    await expect(page.get_by_role("heading", name="The room is not open yet")).to_be_visible()
    await page.get_by_role("button", name="Reschedule").click()
    dialog = page.get_by_role("dialog", name="Move this session")
    await expect(dialog).to_contain_text("with Omar Mentee")
    day = dialog.get_by_label("Day", exact=True)
    await expect(day.locator("option").first).to_be_attached()
    await day.select_option(future_day(4).isoformat())
    await dialog.locator(f'button.slot[data-start="{js_iso(at(13, 30, days=4))}"]').click()
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog).to_be_hidden()
    # The page reloads on the new time, with the move in its history.
    moved = page.locator("time[data-local=datetime]").first
    await expect(moved).to_have_attribute("datetime", at(13, 30, days=4).isoformat())
    await expect(page.locator("[data-session-history]")).to_contain_text("Moved by you")
    await shots(page, "session-page-moved")
    stored = await live_server.store.list_sessions(MENTOR)
    assert [s.scheduled_at for s in stored] == [at(13, 30, days=4)]
    assert page_errors.messages == []


async def test_a_time_taken_while_moving_says_so_and_offers_the_rest(
    live_server: LiveServer, browser: Browser, shots: Shots, page_errors: PageErrors
) -> None:
    await add_people(live_server)
    await book_directly(live_server, MENTEE, at(10), TOPIC)
    page = await page_of(browser, live_server, page_errors, MENTEE)
    await page.goto(live_server.url + "/mentoring/sessions")
    await page.get_by_role("button", name=f"Reschedule session: {TOPIC}").click()
    dialog = page.get_by_role("dialog", name="Move this session")
    day = dialog.get_by_label("Day", exact=True)
    await expect(day.locator("option").first).to_be_attached()
    await day.select_option(future_day(3).isoformat())
    # Its own start is not offered: moving there would change nothing.
    await expect(dialog.locator(f'button.slot[data-start="{js_iso(at(10, 30))}"]')).to_be_visible()
    await expect(dialog.locator(f'button.slot[data-start="{js_iso(at(10))}"]')).to_have_count(0)
    wanted = dialog.locator(f'button.slot[data-start="{js_iso(at(15))}"]')
    await wanted.click()
    await book_directly(live_server, RIVAL, at(15), "Quicker")
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog.locator("#reschedule-summary")).to_have_text(
        "Sorry, that time was just taken. Please pick another time."
    )
    await expect(wanted).to_have_count(0)
    await expect(dialog.locator(f'button.slot[data-start="{js_iso(at(16))}"]')).to_be_visible()
    await shots(page, "reschedule-time-taken")
    await dialog.get_by_role("button", name="Keep the current time").click()
    await expect(page.locator("#upcoming-list .session")).to_contain_text("10:00 AM")
    assert page_errors.messages == []


async def test_the_editor_by_keyboard_and_the_servers_verdict_at_its_weekday(
    live_server: LiveServer, browser: Browser, page_errors: PageErrors
) -> None:
    await add_people(live_server)
    page = await page_of(browser, live_server, page_errors, MENTOR)
    await page.goto(live_server.url + "/mentoring/availability")
    monday = page.get_by_role("group", name="Monday", exact=True)
    await expect(monday.get_by_label("From")).to_have_count(1)
    # Keyboard only: add a range, type its times, take Sunday off and on again.
    await monday.get_by_role("button", name="Add a range on Monday").focus()
    await page.keyboard.press("Enter")
    second_from = monday.get_by_label("From").nth(1)
    await expect(second_from).to_be_focused()
    await second_from.fill("11:00")
    await monday.get_by_label("To").nth(1).fill("13:00")
    sunday_toggle = page.get_by_role("group", name="Sunday", exact=True).get_by_label("Available")
    await sunday_toggle.focus()
    await page.keyboard.press("Space")
    await expect(sunday_toggle).to_be_checked()
    await expect(sunday_toggle).to_be_focused()
    await page.keyboard.press("Space")
    await expect(sunday_toggle).not_to_be_checked()
    # 09:00-17:00 and 11:00-13:00 overlap: the server says so at Monday.
    await page.get_by_role("button", name="Save availability").click()
    await expect(page.locator('[id="weekly.monday-error"]')).to_have_text(
        "Time ranges of a day must not overlap"
    )
    await expect(monday.get_by_label("From").first).to_have_attribute("aria-invalid", "true")
    await page.get_by_role("button", name="Remove Monday range 2").click()
    await expect(monday.get_by_role("button", name="Add a range on Monday")).to_be_focused()
    await page.get_by_role("button", name="Save availability").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile("Availability saved"))
    assert page_errors.messages == []


async def test_calendar_arrow_keys_cross_unavailable_days(
    live_server: LiveServer, browser: Browser, page_errors: PageErrors
) -> None:
    await add_people(live_server)
    page = await page_of(browser, live_server, page_errors, MENTEE)
    await page.goto(f"{live_server.url}/mentoring/book/{MENTOR}")
    grid = page.locator(".calendar__grid")
    await expect(grid).to_have_attribute("aria-busy", "false")
    friday = future_day(3)
    while friday.weekday() != 4:
        friday += timedelta(days=1)
    saturday, monday = friday + timedelta(days=1), friday + timedelta(days=3)

    async def day_button(day_iso: str) -> None:
        while await grid.get_attribute("data-month") != day_iso[:7]:
            await page.get_by_role("button", name="Next month").click()
            await expect(grid).to_have_attribute("aria-busy", "false")

    await day_button(friday.isoformat())
    await page.locator(f'button.day[data-day="{friday.isoformat()}"]').click()
    await expect(page.locator(f'button.day[data-day="{friday.isoformat()}"]')).to_be_focused()
    # Saturday cannot be chosen, yet the arrow keys pass over it.
    await page.keyboard.press("ArrowRight")
    focused = page.locator("button.day:focus")
    await expect(focused).to_have_attribute("data-day", saturday.isoformat())
    await expect(focused).to_have_attribute("aria-disabled", "true")
    await page.keyboard.press("Enter")
    await expect(page.locator("#slots-hint")).to_contain_text(friday.strftime("%B %-d"))
    for _ in range(2):
        await page.keyboard.press("ArrowRight")
    await expect(page.locator("button.day:focus")).to_have_attribute("data-day", monday.isoformat())
    await expect(grid).to_have_attribute("aria-busy", "false")
    await page.keyboard.press("Enter")
    await expect(page.locator("#slots-hint")).to_contain_text(monday.strftime("%B %-d"))
    await expect(page.locator("button.slot").first).to_have_text("09:00 AM")
    assert page_errors.messages == []
