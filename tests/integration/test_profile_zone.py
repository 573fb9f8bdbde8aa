"""Profiles keep canonical IANA zone names, whatever name the browser reports."""

from __future__ import annotations

from dataclasses import replace

from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import Client, connect, follow_link, request_link, user
from web import keys


async def test_an_old_zone_name_is_saved_canonical(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    ana = await user(aiohttp_client, server, "ana@example.org")
    saved = await ana.patch("/api/mentoring/profile", json={"timeZone": "Asia/Calcutta"})
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["profile"]["timeZone"] == "Asia/Kolkata"
    stored = await server.app[keys.STORE].get_profile("ana@example.org")
    assert stored is not None and stored.time_zone == "Asia/Kolkata"

    unknown = await ana.patch("/api/mentoring/profile", json={"timeZone": "Asia/Atlantis"})
    assert unknown.status == 400
    assert (await unknown.json())["field"] == "timeZone"


async def test_an_old_name_stored_earlier_is_shown_canonical(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    store = server.app[keys.STORE]
    ben = await user(aiohttp_client, server, "ben@example.org")
    profile = await store.get_profile("ben@example.org")
    assert profile is not None
    await store.save_profile(replace(profile, time_zone="Europe/Kiev"))
    assert (await (await ben.get("/api/me")).json())["timeZone"] == "Europe/Kyiv"
    own = await (await ben.get("/api/mentoring/profile")).json()
    assert own["profile"]["timeZone"] == "Europe/Kyiv"


async def zone_after_sign_in(client: Client, email: str, reported: object) -> str:
    link = await request_link(client, email, timeZone=reported)
    assert (await follow_link(client, link)).status == 302
    return str((await (await client.get("/api/me")).json())["timeZone"])


async def test_a_new_profile_starts_in_the_devices_zone(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    first = await connect(aiohttp_client, server)
    assert await zone_after_sign_in(first, "ana@example.org", "America/Coral_Harbour") == (
        "America/Atikokan"
    )
    # The default hours of a new mentor are in that zone, not in UTC.
    hours = await (await first.get("/api/mentoring/availability")).json()
    assert hours["availability"]["timeZone"] == "America/Atikokan"
    # A later sign-in from another device keeps the zone the person has.
    again = await connect(aiohttp_client, server)
    assert await zone_after_sign_in(again, "ana@example.org", "Asia/Tokyo") == "America/Atikokan"
    # An unknown name never blocks a sign-in: the profile starts in UTC.
    other = await connect(aiohttp_client, server)
    assert await zone_after_sign_in(other, "ben@example.org", "Mars/Olympus") == "UTC"


async def test_a_zone_of_the_wrong_type_is_named(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    client = await connect(aiohttp_client, server)
    refused = await client.post(
        "/api/auth/email", json={"email": "ana@example.org", "timeZone": {"$ne": None}}
    )
    assert refused.status == 400
    assert (await refused.json())["field"] == "timeZone"


async def test_the_profile_form_offers_the_device_zone_only_while_the_default_is_untouched(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    server = await aiohttp_server(create_app(settings))
    ana = await user(aiohttp_client, server, "ana@example.org")
    page = await (await ana.get("/mentoring/profile/edit")).text()
    assert "data-untouched-default" in page  # profile-edit.js fills in the device's zone
    saved = await ana.patch("/api/mentoring/profile", json={"timeZone": "UTC"})
    assert saved.status == 200
    page = await (await ana.get("/mentoring/profile/edit")).text()
    assert "data-untouched-default" not in page  # chosen on purpose: kept
