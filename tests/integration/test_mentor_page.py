"""The public mentor profile page: signed-in users only, 404 for unknown or disabled mentors,
and everything a mentee weighs before booking."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import become_mentor, connect, user


async def test_the_mentor_page(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    mentor = await user(aiohttp_client, server, "mentor@example.org")
    await become_mentor(mentor, hourlyRate=45, goals="Ship your first service")
    mentee = await user(aiohttp_client, server, "mentee@example.org")

    page = await mentee.get("/mentoring/mentors/mentor@example.org")
    assert page.status == 200
    text = await page.text()
    assert "$45/hour" in text and "Ship your first service" in text
    assert 'href="/mentoring/book/mentor%40example.org"' in text
    assert "data-availability-summary" in text

    await become_mentor(mentor, hourlyRate=0)
    assert ">Free<" in await (await mentee.get("/mentoring/mentors/mentor@example.org")).text()

    for who in ("nobody@example.org", "mentee@example.org", "%00"):
        missing = await mentee.get(f"/mentoring/mentors/{who}")
        assert missing.status == 404

    anonymous = await connect(aiohttp_client, server)
    signed_out = await anonymous.get("/mentoring/mentors/mentor@example.org", allow_redirects=False)
    assert signed_out.status in (302, 303)
    assert signed_out.headers["Location"].startswith("/signin")


async def test_the_mentor_page_summarizes_the_real_hours_and_next_free_times(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    mentor = await user(aiohttp_client, server, "mentor@example.org")
    await become_mentor(mentor)
    soon = datetime.now(UTC).date() + timedelta(days=5)
    lunch = [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    hours = {
        "timeZone": "Europe/Madrid",
        "weekly": {
            **{d: lunch for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
            "saturday": [{"start": "10:00", "end": "12:00"}],
        },
        "exceptions": [{"date": soon.isoformat(), "ranges": []}],
        "bufferMinutes": 15,
        "minNoticeMinutes": 240,
        "horizonDays": 30,
        "durations": [30, 60],
    }
    saved = await mentor.put("/api/mentoring/availability", json=hours)
    assert saved.status == 200, await saved.text()
    mentee = await user(aiohttp_client, server, "mentee@example.org")
    zoned = await mentee.patch("/api/mentoring/profile", json={"timeZone": "America/New_York"})
    assert zoned.status == 200, await zoned.text()
    # A booked time: the page's free times leave it (and its buffer) out, as the API does.
    slots = await (await mentee.get("/api/mentoring/mentors/mentor@example.org/slots")).json()
    taken = slots["slots"][0]
    booked = await mentee.post(
        "/api/mentoring/sessions",
        json={
            "mentorEmail": "mentor@example.org",
            "scheduledAt": taken,
            "duration": 30,
            "topic": "First steps",
        },
    )
    assert booked.status == 201, await booked.text()
    expected = [
        s
        for s in (
            await (await mentee.get("/api/mentoring/mentors/mentor@example.org/slots")).json()
        )["slots"]
    ][:5]

    page = await mentee.get("/mentoring/mentors/mentor@example.org")
    assert page.status == 200
    html = await page.text()
    section = html[html.index('id="availability-summary"') :]
    section = section[: section.index("</section>")]
    assert "Mon-Fri 09:00-12:00, 13:00-17:00; Sat 10:00-12:00 (Europe/Madrid)" in section
    assert "Sessions of 30 or 60 minutes." in section
    assert "Book at least 4 hours ahead." in section
    assert "Bookable up to 30 days ahead." in section
    assert "15 minutes kept free between sessions." in section
    assert f"{soon:%a %d %b %Y}: day off" in section
    assert 'Next free times <span class="muted">(America/New_York)</span>' in section
    shown = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', section)
    assert [iso for iso, _label in shown] == expected and taken not in expected
    new_york = ZoneInfo("America/New_York")
    for iso, label in shown:
        local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(new_york)
        assert label == f"{local:%a %d %b, %H:%M}"
    assert 'href="/mentoring/book/mentor%40example.org"' in section
    assert "09:00\u201317:00" not in html
