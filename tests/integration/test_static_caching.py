"""Static files and the room page: versioned URLs are cached for good, plain ones revalidate,
and the room page names its whole module graph (preloads) and maps imports to versions."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from store.models import Session
from tests.support.apiclient import Client, user
from web import keys
from web.static_assets import IMMUTABLE, REVALIDATE, STATIC_ASSETS

MENTOR = "static.mentor@example.org"
MENTEE = "static.mentee@example.org"
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)
PRELOAD = re.compile(r'<link rel="modulepreload" href="([^"]+)">')


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))


async def test_versioned_urls_are_immutable_and_plain_ones_revalidate(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    client: Client = await aiohttp_client(server)
    assets = server.app[STATIC_ASSETS]
    current = await client.get(assets.url("js/room/call.js"))
    assert current.status == 200
    assert current.headers["Cache-Control"] == IMMUTABLE
    plain = await client.get("/static/js/room/call.js")
    assert plain.headers["Cache-Control"] == REVALIDATE
    stale = await client.get("/static/js/room/call.js?v=0000000000000000")
    assert stale.headers["Cache-Control"] == REVALIDATE
    again = await client.get(
        "/static/js/room/call.js", headers={"If-None-Match": plain.headers["ETag"]}
    )
    assert again.status == 304
    assert again.headers["Cache-Control"] == REVALIDATE
    missing = await client.get("/static/js/room/nothing-here.js")
    assert missing.status == 404
    assert "Cache-Control" not in missing.headers


async def test_the_room_page_preloads_its_graph_and_maps_imports_to_versions(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    store = server.app[keys.STORE]
    await store.ensure_profile(MENTOR, "Static Mentor")
    session_id = uuid.uuid4().hex
    await store.create_session(
        Session(
            session_id=session_id,
            mentor_email=MENTOR,
            mentee_email=MENTEE,
            scheduled_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
            duration=60,
            topic="Static caching",
        )
    )
    mentee = await user(aiohttp_client, server, MENTEE)
    response = await mentee.get(f"/mentoring/session/{session_id}")
    assert response.status == 200
    page = await response.text()
    assets = server.app[STATIC_ASSETS]

    preloads = PRELOAD.findall(page)
    room_graph = assets.preloads("js/room/room.js")
    assert set(room_graph) <= set(preloads)
    assert assets.url("js/room/call.js") in preloads
    assert f'src="{assets.url("js/room/room.js")}"' in page

    # The import map: every module's plain URL to its versioned one, allowed by its hash.
    (map_text,) = IMPORT_MAP.findall(page)
    imports = json.loads(map_text)["imports"]
    assert imports["/static/js/room/call.js"] == assets.url("js/room/call.js")
    assert imports["/static/js/room/notes.js"] == assets.url("js/room/notes.js")
    assert page.index('type="importmap"') < page.index('type="module"')
    digest = base64.b64encode(hashlib.sha256(map_text.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy
