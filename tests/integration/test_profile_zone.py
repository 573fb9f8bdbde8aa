"""Profiles keep canonical IANA zone names, whatever name the browser reports."""

from __future__ import annotations

from dataclasses import replace

from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import user
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
