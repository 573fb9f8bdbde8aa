"""The room before it opens: a page saying when, with a live countdown that opens the room by
itself; and My Sessions naming the zone of the times it shows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from store.models import Session
from tests.browser.room_support import MENTEE, MENTOR, NAMES, room_url, signed_in_context
from tests.browser.support import LiveServer, PageErrors, Shots, close_within, new_context
from web import keys
from web.auth import COOKIE_NAME, session_token_for


async def create(server: LiveServer, start: datetime, topic: str) -> str:
    for email, name in NAMES.items():
        await server.store.ensure_profile(email, name)
    session_id = uuid.uuid4().hex
    await server.store.create_session(
        Session(session_id, MENTOR, MENTEE, start.replace(microsecond=0), 30, topic)
    )
    return session_id


async def test_the_room_counts_down_and_opens_itself(
    browser: Browser, live_server: LiveServer, shots: Shots
) -> None:
    lead = live_server.app[keys.SETTINGS].room.join_lead_minutes
    # Opens 8 seconds from now: long enough to see the countdown, short for a test.
    start = datetime.now(UTC) + timedelta(minutes=lead, seconds=8)
    session_id = await create(live_server, start, "Countdown check")
    errors = PageErrors()
    context = await signed_in_context(browser, live_server, errors, MENTEE)
    try:
        page = await context.new_page()
        response = await page.goto(room_url(live_server, session_id))
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", name="The room is not open yet")).to_be_visible()
        await expect(page.locator("#opens-at")).to_contain_text("(UTC)")
        countdown = page.get_by_role("timer")
        await expect(countdown).to_have_text(re.compile(r"^\d+ s$"))
        first = await countdown.text_content()
        await shots(page, "room-countdown")
        await expect(countdown).not_to_have_text(first or "")  # it ticks
        assert await page.locator("#room-config").count() == 0
        # At zero the page reloads and the server opens the room.
        await expect(page.locator("#room-config")).to_be_attached(timeout=30_000)
        await expect(page.locator("#remote-video")).to_be_attached()
        await shots(page, "room-opened")
    finally:
        await close_within(context.close(), 10)
    assert errors.messages == []


async def test_a_room_days_away_shows_days_and_hours(
    browser: Browser, live_server: LiveServer
) -> None:
    start = datetime.now(UTC) + timedelta(days=2, hours=3)
    session_id = await create(live_server, start, "Far away")
    context = await signed_in_context(browser, live_server, None, MENTOR)
    try:
        page = await context.new_page()
        await page.goto(room_url(live_server, session_id))
        await expect(page.get_by_role("timer")).to_have_text(re.compile(r"^2 d 2 h \d+ min$"))
        await expect(page.get_by_text("Session with Ben Okafor")).to_be_visible()
    finally:
        await close_within(context.close(), 10)


async def test_my_sessions_names_the_zone_of_its_times(
    browser: Browser, live_server: LiveServer, shots: Shots
) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    await create(live_server, start, "Zone label check")
    errors = PageErrors()
    context = await new_context(browser, errors, time_zone="America/New_York")
    token = session_token_for(live_server.app, MENTEE)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": live_server.url}])
    try:
        page = await context.new_page()
        await page.goto(live_server.url + "/mentoring/sessions")
        item = page.locator("#upcoming-list li").filter(has_text="Zone label check")
        await expect(item.locator(".session__when")).to_contain_text("(America/New_York)")
        await expect(item).to_contain_text("Join opens 10 minutes before the start.")
        await shots(page, "my-sessions-zone")
    finally:
        await close_within(context.close(), 10)
    assert errors.messages == []
