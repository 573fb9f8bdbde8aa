"""The operator console, end to end: two people in a call (direct, then through the media
relay) while an operator's browser shows the session live with its path and non-zero bitrate
charts; a non-operator is refused on every /admin page and API; the ended session carries
its quality summary.

Set PANAMIA_SCREENSHOTS_DIR=docs/images/admin to refresh the docs' screenshots (else they go
to the test's artifacts folder)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from store.models import Session
from tests.browser.room_support import (
    MENTEE,
    MENTOR,
    NAMES,
    OUTSIDER,
    eventually,
    leave_and_close,
    room_url,
    running_server,
    signed_in_context,
    wait_for_remote_video,
)
from tests.browser.scheduling_support import DocShots
from tests.browser.support import LiveServer, PageErrors, Shots
from tests.conftest import SettingsFactory
from tests.support.sessions import LONG_LEAD_MINUTES, open_room_start

pytestmark = pytest.mark.browser

OPERATOR = "olga.ops@example.org"
ADMIN_PAGES = ("/admin", "/admin/sessions", "/admin/relay")
ADMIN_API = ("/api/admin/live", "/api/admin/sessions", "/api/admin/relay")


@pytest.fixture
async def console_server(make_settings: SettingsFactory) -> AsyncIterator[LiveServer]:
    def settings_for(url: str, port: int):  # type: ignore[no-untyped-def]
        return make_settings(
            http={"host": "127.0.0.1", "port": port, "public_url": url},
            room={"join_lead_minutes": LONG_LEAD_MINUTES},
            admin={"emails": [OPERATOR]},
        )

    async with running_server(settings_for) as server:
        yield server


async def _session(server: LiveServer, slot: int, topic: str) -> str:
    for email, name in {**NAMES, OPERATOR: "Olga Ops"}.items():
        await server.store.ensure_profile(email, name)
    session_id = uuid.uuid4().hex
    await server.store.create_session(
        Session(session_id, MENTOR, MENTEE, open_room_start(slot), 60, topic)
    )
    return session_id


async def _shows_live(console: Page, url: str, session_id: str, path: str) -> bool:
    """The live page, opened once and updating itself, comes to list the session with both
    participants on ``path`` and both bitrate charts drawn above zero."""
    await console.goto(url, wait_until="domcontentloaded", timeout=30_000)
    for _ in range(40):
        block = console.locator(f"[data-live-session='{session_id}']")
        if await block.count():
            paths = await block.locator("tr[data-participant]").evaluate_all(
                "rows => rows.map(row => row.dataset.path)"
            )
            charts = await block.locator("svg.chart").evaluate_all(
                "charts => charts.map(c => [Number(c.dataset.max), Number(c.dataset.points)])"
            )
            # Both bitrate charts (in, out) drawn, above zero, with two reports per person.
            drawn = len(charts) == 2 and all(peak > 0 and points >= 4 for peak, points in charts)
            if paths == [path, path] and drawn:
                return True
        await asyncio.sleep(1.5)
    return False


async def _call(
    browser: Browser, server: LiveServer, errors: PageErrors, session_id: str, query: str
) -> tuple[BrowserContext, BrowserContext, Page]:
    url = room_url(server, session_id, query)
    mentor_ctx = await signed_in_context(browser, server, errors, MENTOR)
    mentee_ctx = await signed_in_context(browser, server, errors, MENTEE)
    mentor = await mentor_ctx.new_page()
    mentee = await mentee_ctx.new_page()
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page, timeout_ms=30_000)
    return mentor_ctx, mentee_ctx, mentee


POOR = "{path: 'direct', lossPct: 12, fps: 24}"
HEALTHY = "{path: 'direct', lossPct: 0, fps: 24}"


async def _poor_connection_is_explained(page: Page, doc_shots: DocShots) -> None:
    """Sustained loss (two poor reports in a row, injected into the room's own check) shows
    the notice with advice; a healthy report hides it again."""
    # Both reports in one go: the room's own 5-second report cannot slip in between.
    after_one, after_two, text = await page.evaluate(
        f"""() => {{
            const notice = document.getElementById("quality-notice");
            panamiaRoom.quality.advise({HEALTHY});  // whatever this loaded machine measured
            panamiaRoom.quality.advise({POOR});
            const afterOne = notice.hidden;
            panamiaRoom.quality.advise({POOR});
            return [afterOne, notice.hidden, notice.textContent];
        }}"""
    )
    assert after_one  # one poor report is a blip
    assert not after_two
    assert "losing data" in text
    await doc_shots(page, "room-poor-connection", full_page=False)
    await page.evaluate(f"() => panamiaRoom.quality.advise({HEALTHY})")
    assert await page.locator("#quality-notice").is_hidden()


async def _hang_up(server: LiveServer, session_id: str, *contexts: BrowserContext) -> None:
    """Both end the call: each room's last report stores its summary at once."""
    pages = [context.pages[0] for context in contexts]
    for page in pages:
        await page.get_by_role("button", name="End call").click()
    for page in pages:
        await page.wait_for_url("**/mentoring/sessions")

    async def summarised() -> bool:
        summaries = await server.store.quality_summaries(session_id)
        return len(summaries) == 2 and all(s.reports >= 2 for s in summaries)

    # A report in flight at the hang-up may land just after the last one: allow a save tick.
    assert await eventually(summarised, timeout_s=30)
    await leave_and_close(*contexts)


async def test_console_shows_live_calls_and_refuses_everyone_else(
    browser: Browser, console_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    server = console_server
    doc_shots = DocShots(shots.folder)
    operator_ctx = await signed_in_context(browser, server, page_errors, OPERATOR)
    console = await operator_ctx.new_page()

    # A signed-in non-operator, and a visitor who is not signed in: refused everywhere.
    outsider_ctx = await signed_in_context(browser, server, None, OUTSIDER)
    anonymous_ctx = await signed_in_context(browser, server, None, None)
    direct_id = await _session(server, 0, "Direct call")
    for path in (*ADMIN_PAGES, *ADMIN_API, f"/admin/sessions/{direct_id}"):
        assert (await outsider_ctx.request.get(server.url + path)).status == 403, path
        assert (await anonymous_ctx.request.get(server.url + path)).status == 401, path
    await leave_and_close(outsider_ctx, anonymous_ctx)

    # 1. A direct (P2P) call.
    mentor_ctx, mentee_ctx, mentee = await _call(browser, server, page_errors, direct_id, "")
    assert await _shows_live(console, server.url + "/admin", direct_id, "direct")
    await _poor_connection_is_explained(mentee, doc_shots)
    await doc_shots(console, "live-direct")
    await _hang_up(server, direct_id, mentor_ctx, mentee_ctx)
    summaries = await server.store.quality_summaries(direct_id)
    assert {s.path for s in summaries} == {"direct"}
    assert all((s.bitrate_in_kbps_avg or 0) > 0 for s in summaries), summaries

    await console.goto(f"{server.url}/admin/sessions/{direct_id}")
    assert await console.locator("tr[data-summary]").count() == 2
    assert await console.locator("tr[data-summary] td[data-path='direct']").count() == 2
    await doc_shots(console, "session")

    # 2. The same two people later, through the media relay.
    relay_id = await _session(server, 2, "Relayed call")
    mentor_ctx, mentee_ctx, mentee = await _call(
        browser, server, page_errors, relay_id, "?relay=always"
    )
    assert await _shows_live(console, server.url + "/admin", relay_id, "relay")
    await doc_shots(console, "live-relay")
    await console.goto(server.url + "/admin/relay")
    assert await console.locator("[data-path-count='relay']").inner_text() == "2"
    await doc_shots(console, "relay")
    await _hang_up(server, relay_id, mentor_ctx, mentee_ctx)
    summaries = await server.store.quality_summaries(relay_id)
    assert {s.path for s in summaries} == {"relay"}

    await console.goto(f"{server.url}/admin/sessions?participant=ben")
    assert await console.locator("section[data-session]").count() == 2
    await doc_shots(console, "past-sessions")
    await leave_and_close(operator_ctx)
    assert page_errors.messages == []
