"""The scheduling journey in Chromium, with mail going to a real SMTP server in the test:
a mentor in Madrid sets weekends off, a lunch break and a day off next week in the editor; a
mentee in New York sees only those free times, books, moves the session and cancels it; each
step's e-mail arrives for both of them with an invitation a calendar client accepts.

Set PANAMIA_SCREENSHOTS_DIR=docs/images/scheduling to refresh the docs' screenshots."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from panamia.app import create_app
from store.models import MentoringProfile, Profile
from tests.browser.scheduling_support import (
    DocShots,
    agenda_html,
    agenda_rows,
    inbox_html,
    next_monday,
)
from tests.browser.support import LiveServer, PageErrors, Shots, new_context
from tests.conftest import SettingsFactory
from tests.integration.test_mail import invitation, only_event, wait_for_kind
from tests.support.procs import free_port
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web.auth import COOKIE_NAME, session_token_for

pytestmark = pytest.mark.browser

MENTOR, MENTOR_ZONE = "marta.mentor@example.org", "Europe/Madrid"
MENTEE, MENTEE_ZONE = "nico.mentee@example.org", "America/New_York"
TOPIC = "Preparing for my first data engineering interview"
REASON = "My interview moved to that day; I will book again next week."
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
async def mail_server(
    make_settings: SettingsFactory, smtp: tuple[Recorder, int]
) -> AsyncIterator[LiveServer]:
    """The whole app on a free port, sending its mail to the in-process SMTP server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        http={"host": "127.0.0.1", "port": port, "public_url": url},
        mail=mail_settings(smtp[1]),
    )
    runner = web.AppRunner(create_app(settings), shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(url, runner.app)
    finally:
        await runner.cleanup()


async def signed_in(
    browser: Browser, server: LiveServer, errors: PageErrors, email: str, zone: str, width: int
) -> tuple[BrowserContext, Page]:
    context = await new_context(browser, errors, time_zone=zone, width=width)
    token = session_token_for(server.app, email)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    return context, await context.new_page()


def madrid(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(MENTOR_ZONE))


def js_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def clock(moment: datetime, zone: str) -> str:
    """How the page writes a time of day (en-US, two digits)."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%I:%M %p")


def ny_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(MENTEE_ZONE)).date().isoformat()


# --- the mentor's editor ------------------------------------------------------------------
async def set_availability(page: Page, server: LiveServer, day_off: date, shots: DocShots) -> None:
    await page.goto(server.url + "/mentoring/profile/edit")
    await page.get_by_role("link", name="Set your availability").click()
    await expect(page.get_by_role("heading", name="Your availability")).to_be_visible()
    await expect(page.locator("nav a[aria-current=page]")).to_have_text("Availability")
    # First set-up: the default hours, in the zone of this device.
    await expect(page.get_by_label("Your hours are in")).to_have_value(MENTOR_ZONE)
    await expect(page.locator("#availability-default")).to_be_visible()
    for weekend in ("Saturday", "Sunday"):
        day = page.get_by_role("group", name=weekend, exact=True)
        await expect(day.get_by_label("Available")).not_to_be_checked()
        await expect(day).to_contain_text("Day off")

    # A lunch break on every weekday: 09:00-12:00 and 13:00-17:00.
    for name in WEEKDAYS:
        day = page.get_by_role("group", name=name, exact=True)
        await expect(day.get_by_label("Available")).to_be_checked()
        await day.get_by_label("To").first.fill("12:00")
        await day.get_by_role("button", name=f"Add a range on {name}").click()
        await expect(day.get_by_label("From").nth(1)).to_be_focused()
        await day.get_by_label("From").nth(1).fill("13:00")
        await day.get_by_label("To").nth(1).fill("17:00")

    # A day off next week.
    await page.get_by_role("button", name="Add a date").click()
    exception = page.get_by_role("group", name="Exception 1")
    await expect(exception.get_by_label("Date", exact=True)).to_be_focused()
    await exception.get_by_label("Date", exact=True).fill(day_off.isoformat())
    await expect(exception.get_by_label("On that date")).to_have_value("off")

    # Sessions of 30 or 60 minutes; a buffer the server refuses first, shown at its field.
    for unwanted in ("15 minutes", "90 minutes", "120 minutes"):
        await page.get_by_label(unwanted, exact=True).uncheck()
    await page.get_by_label("Buffer between sessions (minutes)").fill("61")
    await page.get_by_role("button", name="Save availability").click()
    await expect(page.locator("#bufferMinutes-error")).to_contain_text("60")
    await expect(page.get_by_label("Buffer between sessions (minutes)")).to_be_focused()
    await page.get_by_label("Buffer between sessions (minutes)").fill("0")
    await page.get_by_label("Minimum notice (hours)").fill("2")
    await page.get_by_label("Booking horizon (days)").fill("30")
    await page.get_by_role("button", name="Save availability").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile("Availability saved"))
    await expect(page.locator("#availability-default")).to_be_hidden()
    await shots(page, "availability-editor")

    saved = (await server.store.get_profile(MENTOR)) or Profile(MENTOR)
    rules = saved.effective_availability
    assert saved.availability is not None and rules.time_zone == MENTOR_ZONE
    assert [len(ranges) for ranges in rules.weekly] == [2, 2, 2, 2, 2, 0, 0]
    assert [(e.day, e.ranges) for e in rules.exceptions] == [(day_off, ())]
    assert rules.durations == (30, 60)


# --- the mentee's calendar ----------------------------------------------------------------
async def show_day(page: Page, day: str) -> None:
    """Bring the month of ``day`` into view and wait for its free times."""
    grid = page.locator(".calendar__grid")
    for _ in range(3):
        await expect(grid).to_have_attribute("aria-busy", "false")
        shown = await grid.get_attribute("data-month") or ""
        if day[:7] == shown:
            return
        name = "Next month" if day[:7] > shown else "Previous month"
        await page.get_by_role("button", name=name).click()
    raise AssertionError(f"{day} is not reachable in the calendar")


async def check_calendar(page: Page, tuesday: date, day_off: date, saturday: date) -> None:
    slots = page.locator("button.slot")
    # Next week's Tuesday in New York: 09:00-12:00 and 13:00-17:00 in Madrid, as hour-long
    # sessions, so the last morning start is 11:00 and nothing starts in the lunch hour.
    await show_day(page, tuesday.isoformat())
    day_button = page.locator(f'button.day[data-day="{tuesday.isoformat()}"]')
    await expect(day_button).to_be_enabled()
    await day_button.click()
    expected = [madrid(tuesday, 9, 0) + timedelta(minutes=30 * i) for i in range(5)]
    expected += [madrid(tuesday, 13, 0) + timedelta(minutes=30 * i) for i in range(7)]
    await expect(slots).to_have_count(len(expected))
    assert await slots.evaluate_all("els => els.map(e => e.dataset.start)") == [
        js_iso(m) for m in expected
    ]
    await expect(slots.first).to_have_text(clock(expected[0], MENTEE_ZONE))
    await expect(slots.last).to_have_text(clock(expected[-1], MENTEE_ZONE))
    await expect(page.locator("#slots-zone")).to_have_text(f"(your time zone: {MENTEE_ZONE})")

    # Shorter sessions fit the half hour before lunch and before the end of the day.
    await page.get_by_label("Duration").select_option("30")
    await expect(slots).to_have_count(len(expected) + 2)
    await expect(slots.last).to_have_text(clock(madrid(tuesday, 16, 30), MENTEE_ZONE))
    await page.get_by_label("Duration").select_option("60")
    await expect(slots).to_have_count(len(expected))
    await expect(page.get_by_label("Duration").locator("option")).to_have_count(2)

    # The day off and the weekend cannot be chosen.
    for unavailable in (day_off, saturday):
        await show_day(page, unavailable.isoformat())
        button = page.locator(f'button.day[data-day="{unavailable.isoformat()}"]')
        await expect(button).to_be_disabled()
        await expect(button).to_have_attribute("aria-label", re.compile(r"\(no free times\)$"))


async def book(page: Page, start: datetime, shots: DocShots) -> None:
    await show_day(page, ny_day(start))
    await page.locator(f'button.day[data-day="{ny_day(start)}"]').click()
    slot = page.locator(f'button.slot[data-start="{js_iso(start)}"]')
    await slot.click()
    await expect(slot).to_have_attribute("aria-pressed", "true")
    await page.get_by_label("Topic").fill(TOPIC)
    await expect(page.locator("#book-choice")).to_contain_text(f"for Marta Mentor ({MENTOR_ZONE})")
    await shots(page, "booking-calendar")
    await page.get_by_role("button", name="Book Session").click()
    await expect(page).to_have_url(re.compile(r"/mentoring/sessions\?booked=1$"))


async def reschedule(page: Page, day_off: date, new_start: datetime, shots: DocShots) -> None:
    await page.get_by_role("button", name=f"Reschedule session: {TOPIC}").click()
    dialog = page.get_by_role("dialog", name="Move this session")
    await expect(dialog).to_be_visible()
    days = dialog.get_by_label("Day", exact=True)
    await expect(days.locator("option").first).to_be_attached()
    offered = await days.locator("option").evaluate_all("els => els.map(e => e.value)")
    assert day_off.isoformat() not in offered and ny_day(new_start) in offered
    await days.select_option(ny_day(new_start))
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog.locator("#scheduledAt-error")).to_have_text("Choose a new start time.")
    await dialog.locator(f'button.slot[data-start="{js_iso(new_start)}"]').click()
    await shots(page, "reschedule-dialog", full_page=False)
    await dialog.get_by_role("button", name="Move session").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#sessions-status")).to_contain_text("Session moved to")
    upcoming = page.locator("#upcoming-list .session")
    await expect(upcoming).to_have_count(1)
    moved = new_start.astimezone(ZoneInfo(MENTEE_ZONE))
    end = moved + timedelta(hours=1)
    await expect(upcoming).to_contain_text(f"{moved:%I:%M %p}\u2013{end:%I:%M %p}")
    await expect(upcoming).to_contain_text(f"({MENTEE_ZONE})")
    await shots(page, "sessions-after-reschedule")


async def cancel(page: Page) -> None:
    await page.get_by_role("button", name=f"Cancel session: {TOPIC}").click()
    dialog = page.get_by_role("dialog", name="Cancel this session?")
    await dialog.get_by_label("Reason").fill(REASON)
    await dialog.get_by_role("button", name="Cancel session").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#past-list .session")).to_contain_text(f"Cancelled by you: {REASON}")


# --- what arrived -------------------------------------------------------------------------
def check_invitations(
    messages: list[EmailMessage], method: str, sequence: int, start: datetime
) -> str:
    """Both people got one invitation for the same event; returns its UID."""
    assert sorted(str(m["To"]) for m in messages) == [MENTOR, MENTEE]
    uids = set()
    for message in messages:
        found, cal = invitation(message)
        assert found == method and cal["METHOD"] == method
        event = only_event(cal)
        uids.add(str(event["UID"]))
        assert int(event["SEQUENCE"]) == sequence
        begins = event.decoded("DTSTART")
        assert begins == start and begins.utcoffset() == timedelta(0)
        assert "Z" in event["DTSTART"].to_ical().decode()
        assert str(event["ORGANIZER"]) == f"mailto:{MENTOR}"
        assert {str(a) for a in event["ATTENDEE"]} == {f"mailto:{MENTOR}", f"mailto:{MENTEE}"}
    assert len(uids) == 1
    return uids.pop()


async def test_availability_booking_reschedule_and_cancel_with_mail(
    mail_server: LiveServer,
    smtp: tuple[Recorder, int],
    browser: Browser,
    shots: Shots,
    page_errors: PageErrors,
) -> None:
    server, recorder = mail_server, smtp[0]
    doc_shots = DocShots(shots.folder)
    await server.store.save_profile(
        Profile(
            email=MENTOR,
            name="Marta Mentor",
            time_zone=MENTOR_ZONE,
            mentoring=MentoringProfile(
                enabled=True,
                bio="Data engineer in Madrid; I help people prepare for technical interviews.",
                expertise=("Data engineering", "Interviews"),
                languages=("Spanish", "English"),
                hourly_rate=0,
            ),
        )
    )
    await server.store.ensure_profile(MENTEE, "Nico Mentee")
    monday = next_monday(datetime.now(ZoneInfo(MENTOR_ZONE)).date())
    tuesday, day_off, thursday, saturday = (monday + timedelta(days=n) for n in (1, 2, 3, 5))

    mentor_ctx, mentor = await signed_in(browser, server, page_errors, MENTOR, MENTOR_ZONE, 1200)
    await set_availability(mentor, server, day_off, doc_shots)

    mentee_ctx, mentee = await signed_in(browser, server, page_errors, MENTEE, MENTEE_ZONE, 1200)
    await mentee.goto(f"{server.url}/mentoring/book/{MENTOR}")
    await check_calendar(mentee, tuesday, day_off, saturday)
    start = madrid(tuesday, 10)
    await book(mentee, start, doc_shots)
    uid = check_invitations(
        await wait_for_kind(recorder, "booked", 2), "REQUEST", 0, start.astimezone(UTC)
    )

    moved = madrid(thursday, 15, 30)
    await reschedule(mentee, day_off, moved, doc_shots)
    rescheduled = await wait_for_kind(recorder, "rescheduled", 2)
    assert check_invitations(rescheduled, "REQUEST", 1, moved.astimezone(UTC)) == uid

    await cancel(mentee)
    cancelled = await wait_for_kind(recorder, "cancelled", 2)
    assert check_invitations(cancelled, "CANCEL", 2, moved.astimezone(UTC)) == uid
    for message in cancelled:
        body = message.get_body(("plain",))
        assert body is not None and REASON in body.get_content()
        assert only_event(invitation(message)[1])["STATUS"] == "CANCELLED"

    # What the mentee received, and how a calendar client lists those invitations.
    received = [m for m in recorder.messages if m["To"] == MENTEE]
    viewer = await mentee_ctx.new_page()
    await viewer.set_viewport_size({"width": 900, "height": 600})
    await viewer.set_content(inbox_html("Nico Mentee", received))
    await doc_shots(viewer, "mail-received")
    rows = agenda_rows(received, MENTEE_ZONE)
    assert [(r["method"], r["sequence"], r["status"]) for r in rows] == [
        ("REQUEST", 0, "CONFIRMED"),
        ("REQUEST", 1, "CONFIRMED"),
        ("CANCEL", 2, "CANCELLED"),
    ]
    await viewer.set_viewport_size({"width": 1000, "height": 500})
    await viewer.set_content(agenda_html("Nico Mentee", MENTEE_ZONE, rows))
    await expect(viewer.locator("tr.cancelled")).to_have_count(2)
    await doc_shots(viewer, "calendar-agenda")

    for context in (mentor_ctx, mentee_ctx):
        await context.close()
    assert page_errors.messages == []
