"""The public mentor profile page: signed-in users only, 404 for unknown or disabled mentors,
and everything a mentee weighs before booking."""

from __future__ import annotations

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
