"""What a person sees of mail: the Messages page of a local server without SMTP, and the
private calendar feed (read with the icalendar library, as a calendar app would)."""

from __future__ import annotations

import asyncio
from typing import Any

import icalendar
import pytest
import structlog.testing
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client, become_mentor, connect, local_path, slot, user
from tests.support.procs import free_port
from tests.support.smtp import mail_settings
from web import keys

MENTOR = "ana@example.org"
MENTEE = "ben@example.org"
OUTSIDER = "olga@example.org"


async def book(mentee: Client, hour: int, topic: str) -> str:
    booked = await mentee.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": slot(hour), "duration": 30, "topic": topic},
    )
    assert booked.status == 201, await booked.text()
    return str((await booked.json())["session"]["sessionId"])


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> TestServer:
    return await aiohttp_server(create_app(make_settings()))


async def test_the_messages_page_shows_only_your_own_mail(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    ana = await user(aiohttp_client, server, MENTOR)
    await become_mentor(ana)
    # Captured as events, whatever output an earlier test configured the logging for.
    with structlog.testing.capture_logs() as events:
        ben = await user(aiohttp_client, server, MENTEE)
        olga = await user(aiohttp_client, server, OUTSIDER)
        session_id = await book(ben, 10, "Kubernetes basics")
        store = server.app[keys.STORE]
        for _ in range(200):  # the sender writes them to the log in the background
            mail = await store.list_mail_for(MENTEE)
            if [m.status.value for m in mail if m.kind.value == "booked"] == ["sent"]:
                break
            await asyncio.sleep(0.05)

    page = await ben.get("/messages")
    assert page.status == 200
    html = await page.text()
    assert "Session booked: Kubernetes basics" in html
    assert f"/mentoring/session/{session_id}" in html
    assert "Your Pana Mia Live sign-in link" in html
    assert "METHOD:REQUEST" in html
    assert 'href="/messages"' in html  # in the navigation

    theirs = await (await olga.get("/messages")).text()
    assert "Kubernetes basics" not in theirs
    assert "No messages yet" not in theirs  # Olga has her own sign-in message

    anon = await connect(aiohttp_client, server)
    signed_out = await anon.get("/messages", allow_redirects=False)
    assert signed_out.status == 302

    # The log says a message would have gone out, never what a sign-in link was.
    logged = repr(events)
    assert any(event["event"] == "mail.logged" for event in events)
    assert "auth/callback?token=" not in logged


async def test_no_messages_page_when_mail_really_goes_out(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, make_settings: SettingsFactory
) -> None:
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(free_port()))))
    ben = await user(aiohttp_client, server, MENTEE)
    assert (await ben.get("/messages")).status == 404
    assert 'href="/messages"' not in await (await ben.get("/mentoring/sessions")).text()


async def test_the_calendar_feed_lists_upcoming_sessions_until_revoked(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    ana = await user(aiohttp_client, server, MENTOR)
    await become_mentor(ana)
    ben = await user(aiohttp_client, server, MENTEE)
    kept = await book(ben, 10, "Kept, with a comma; and more")
    dropped = await book(ben, 12, "Dropped")
    cancel = {"action": "cancel", "reason": "Not needed any more"}
    assert (await ben.patch(f"/api/mentoring/sessions/{dropped}", json=cancel)).status == 200
    moved = await ben.post(
        f"/api/mentoring/sessions/{kept}/reschedule", json={"scheduledAt": slot(14)}
    )
    assert moved.status == 200, await moved.text()

    created = await ben.post("/api/calendar/token")
    assert created.status == 201
    url = (await created.json())["url"]
    assert url.startswith(server.app[keys.SETTINGS].public_url + "/calendar/")
    anon = await connect(aiohttp_client, server)
    feed = await anon.get(local_path(url))
    assert feed.status == 200
    assert feed.content_type == "text/calendar"
    cal = icalendar.Calendar.from_ical(await feed.read())
    assert "METHOD" not in cal  # a subscribed calendar, not a scheduling message
    events: list[Any] = list(cal.walk("VEVENT"))
    assert [str(e["UID"]) for e in events] == [f"{kept}@localhost"]
    assert str(events[0]["SUMMARY"]) == "Mentoring: Kept, with a comma; and more"
    assert int(events[0]["SEQUENCE"]) == 1  # the invitations' sequence after the move
    assert {str(a) for a in events[0]["ATTENDEE"]} == {f"mailto:{MENTOR}", f"mailto:{MENTEE}"}

    # The mentor's own feed lists the same session; another token leaves Ben's alone.
    ana_url = (await (await ana.post("/api/calendar/token")).json())["url"]
    ana_feed = icalendar.Calendar.from_ical(await (await anon.get(local_path(ana_url))).read())
    assert [str(e["UID"]) for e in ana_feed.walk("VEVENT")] == [f"{kept}@localhost"]

    rotated = (await (await ben.post("/api/calendar/token")).json())["url"]
    assert (await anon.get(local_path(url))).status == 404
    assert (await anon.get(local_path(rotated))).status == 200
    assert (await ben.delete("/api/calendar/token")).status == 204
    assert (await anon.get(local_path(rotated))).status == 404
    assert (await anon.get("/calendar/short.ics")).status == 404
    assert (await anon.get("/calendar/" + "x" * 43 + ".ics")).status == 404
