"""A session's details page tells its story: who moved it, when, from and to (in the
reader's zone, named), and a status line that counts the moves, before the room opens
(the waiting page) and after a cancel (the details page)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import become_mentor, slot, user

MENTOR, MENTEE = "ana@example.org", "ben@example.org"


def text_of(page: str) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def local(iso: str, zone: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return f"{moment:%a %d %b %Y, %H:%M} ({zone})"


async def test_moves_are_listed_with_zones_and_the_status_counts_them(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    ana = await user(aiohttp_client, server, MENTOR)
    await become_mentor(ana)
    await ana.patch("/api/mentoring/profile", json={"name": "Ana Lopez"})
    ben = await user(aiohttp_client, server, MENTEE)
    await ben.patch("/api/mentoring/profile", json={"name": "Ben Ode", "timeZone": "Asia/Tokyo"})
    first, second, third = slot(10), slot(14), slot(11, days=4)
    booked = await ben.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": first, "duration": 60, "topic": "Queues"},
    )
    assert booked.status == 201, await booked.text()
    session_id = (await booked.json())["session"]["sessionId"]
    room = f"/mentoring/session/{session_id}"

    unmoved = text_of(await (await ben.get(room)).text())
    assert "Scheduled at the time it was booked." in unmoved
    assert "Changes" not in unmoved

    for who, start in ((ben, second), (ana, third)):
        moved = await who.post(
            f"/api/mentoring/sessions/{session_id}/reschedule", json={"scheduledAt": start}
        )
        assert moved.status == 200, await moved.text()
    history = (await moved.json())["session"]["history"]

    # Before the room opens, the waiting page carries the story, in the reader's zone.
    page = await ben.get(room)
    assert page.status == 403
    seen = text_of(await page.text())
    assert "Rescheduled: moved twice, most recently by Ana Lopez on" in seen
    assert "(update 2)" in seen
    assert "Times in Asia/Tokyo." in seen
    assert (
        f"Moved by you on {local(history[0]['at'], 'Asia/Tokyo')}: from "
        f"{local(first, 'Asia/Tokyo')} to {local(second, 'Asia/Tokyo')}."
    ) in seen
    assert (
        f"Moved by Ana Lopez on {local(history[1]['at'], 'Asia/Tokyo')}: from "
        f"{local(second, 'Asia/Tokyo')} to {local(third, 'Asia/Tokyo')}."
    ) in seen
    mentor_view = text_of(await (await ana.get(room)).text())
    assert f"Moved by Ben Ode on {local(history[0]['at'], 'UTC')}" in mentor_view
    assert "most recently by you" in mentor_view

    # Cancelled: the details page keeps the history and says so.
    cancelled = await ana.patch(
        f"/api/mentoring/sessions/{session_id}", json={"action": "cancel", "reason": "Ill"}
    )
    assert cancelled.status == 200, await cancelled.text()
    details = await ben.get(room)
    assert details.status == 200
    shown = text_of(await details.text())
    assert (
        "Cancelled by Ana Lopez, after being moved twice. The calendar invitation was withdrawn."
    ) in shown
    assert f"to {local(third, 'Asia/Tokyo')}." in shown
    assert "data-session-history" in await details.text()
