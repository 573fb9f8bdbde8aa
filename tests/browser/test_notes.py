"""Two people type into the same notes at once in real Chromium; nothing is lost, the server
stores the merged text and the page says "Saving..." then "Saved"."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from panamia.app import create_app
from store.models import Session
from tests.browser.support import LiveServer, PageErrors
from tests.conftest import SettingsFactory
from tests.support.procs import free_port
from tests.support.sessions import open_room_start
from web import keys
from web.auth import COOKIE_NAME, session_token_for
from web.keys import NOTES
from web.notes import setup_notes

pytestmark = pytest.mark.browser

MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"

# A bare page around the notes module, so this test depends on nothing but the notes.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes</title></head>
<body>
<textarea id="notes" rows="8" cols="60"></textarea>
<p id="status" role="status"></p>
<script type="module">
import { mountNotes } from "/static/js/room/notes.js";
const status = document.getElementById("status");
window.statusLog = [];
new MutationObserver(() => window.statusLog.push(status.textContent))
  .observe(status, { childList: true, characterData: true, subtree: true });
window.notes = mountNotes(document.getElementById("notes"), status, SESSION_ID);
</script>
</body></html>
"""


async def notes_page(request: web.Request) -> web.Response:
    session_id = request.match_info["sessionId"]
    html = PAGE.replace("SESSION_ID", json.dumps(session_id))
    return web.Response(text=html, content_type="text/html")


@pytest.fixture
async def notes_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(http={"host": "127.0.0.1", "port": port, "public_url": url}))
    if "notes-socket" not in app.router:  # until the composition root registers the notes
        setup_notes(app)
    app.router.add_get("/test/notes/{sessionId}", notes_page)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(url, app)
    finally:
        await runner.cleanup()


async def book(server: LiveServer, notes: str) -> str:
    for email in (MENTOR, MENTEE):
        await server.store.ensure_profile(email, email.split("@")[0].title())
    session_id = uuid.uuid4().hex
    start = open_room_start()
    await server.store.create_session(
        Session(
            session_id=session_id,
            mentor_email=MENTOR,
            mentee_email=MENTEE,
            scheduled_at=start,
            duration=60,
            topic="Notes in the browser",
            notes=notes,
        )
    )
    return session_id


async def open_notes(
    browser: Browser, server: LiveServer, errors: PageErrors, email: str, session_id: str
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context()
    errors.watch(context)
    token = session_token_for(server.app, email)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url}])
    page = await context.new_page()
    await page.goto(f"{server.url}/test/notes/{session_id}")
    await expect(page.locator("#status")).to_have_text("Saved")
    await expect(page.locator("#notes")).to_be_editable()
    return context, page


async def test_two_people_type_at_once_and_both_texts_are_stored(
    browser: Browser, notes_server: LiveServer, page_errors: PageErrors
) -> None:
    session_id = await book(notes_server, notes="\n")
    mentor_ctx, mentor = await open_notes(browser, notes_server, page_errors, MENTOR, session_id)
    mentee_ctx, mentee = await open_notes(browser, notes_server, page_errors, MENTEE, session_id)

    mentor_line = "Mentor: review the portfolio"
    mentee_line = "Mentee: ask about rates"
    await mentor.locator("#notes").click()
    await mentor.keyboard.press("Control+Home")
    await mentee.locator("#notes").click()
    await mentee.keyboard.press("Control+End")
    await asyncio.gather(
        mentor.keyboard.type(mentor_line, delay=25),
        mentee.keyboard.type(mentee_line, delay=25),
    )

    merged = f"{mentor_line}\n{mentee_line}"
    for page in (mentor, mentee):
        await expect(page.locator("#notes")).to_have_value(merged)
        await expect(page.locator("#status")).to_have_text("Saved")
        log = await page.evaluate("window.statusLog")
        assert "Saving..." in log, log
    stored = await notes_server.store.get_session(session_id)
    assert stored is not None
    assert stored.notes == merged

    # The REST API's update edits the same live document.
    await notes_server.app[NOTES].set_notes_text(session_id, merged + "\nAgreed: weekly calls")
    for page in (mentor, mentee):
        await expect(page.locator("#notes")).to_have_value(merged + "\nAgreed: weekly calls")
        await expect(page.locator("#status")).to_have_text("Saved")

    # A reload shows what is stored.
    await mentee.reload()
    await expect(mentee.locator("#notes")).to_have_value(merged + "\nAgreed: weekly calls")
    await mentor_ctx.close()
    await mentee_ctx.close()
    assert page_errors.messages == []


async def test_someone_else_is_told_they_cannot_edit(
    browser: Browser, notes_server: LiveServer, page_errors: PageErrors
) -> None:
    session_id = await book(notes_server, notes="private")
    context = await browser.new_context()
    token = session_token_for(notes_server.app, "stranger@example.org")
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": notes_server.url}])
    page = await context.new_page()
    await page.goto(f"{notes_server.url}/test/notes/{session_id}")
    await expect(page.locator("#status")).to_have_text("You cannot edit these notes")
    await expect(page.locator("#notes")).to_have_value("")
    await expect(page.locator("#notes")).not_to_be_editable()
    assert notes_server.app[keys.STORE] is notes_server.store
    await context.close()
