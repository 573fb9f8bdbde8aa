"""GET /metrics: Prometheus text with the hub's, the relay's, the bookings' and the process's
figures, one registry per app; and the load-test sign-in route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from signaling.auth import sign_channel
from tests.support.apiclient import become_mentor, connect, sign_in, slot
from tests.support.live_server import LOADTEST_TOKEN, build_app, live_server
from web import keys
from web.metrics import record_booking


def _values(text: str) -> dict[str, float]:
    """Every sample (label-less metrics here) by name, read with Prometheus's own parser."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(client: Any) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return _values(await response.text())


async def test_metrics_cover_process_hub_relay_and_bookings(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(build_app(make_settings()))
    values = await _scrape(client)
    assert values["process_cpu_seconds_total"] > 0
    assert values["process_resident_memory_bytes"] > 10 * 2**20
    for name in (
        "panamia_hub_connections",
        "panamia_hub_channels",
        "panamia_hub_messages_in_total",
        "panamia_hub_messages_out_total",
        "panamia_hub_client_events_rejected_total",
        "panamia_relay_sessions",
        "panamia_relay_peer_connections",
        "panamia_relay_streams",
        "panamia_bookings_created_total",
    ):
        assert name in values, name
    assert values["panamia_relay_streams"] == 0


async def test_hub_figures_follow_live_websockets(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    client = await aiohttp_client(build_app(settings))
    before = await _scrape(client)
    key, secret = settings.pusher.key, settings.pusher.secret.reveal()
    channel = "private-metrics"
    sockets = [await client.ws_connect(f"/app/{key}?protocol=7") for _ in range(3)]
    for ws in sockets:
        hello = await ws.receive_json()  # pusher:connection_established
        socket_id = json.loads(hello["data"])["socket_id"]
        auth = sign_channel(key, secret, socket_id, channel)
        await ws.send_json(
            {"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth}}
        )
        assert (await ws.receive_json())["event"] == "pusher_internal:subscription_succeeded"
    during = await _scrape(client)
    assert during["panamia_hub_connections"] == before["panamia_hub_connections"] + 3
    assert during["panamia_hub_channels"] == before["panamia_hub_channels"] + 1
    assert during["panamia_hub_messages_in_total"] >= before["panamia_hub_messages_in_total"] + 3

    # A client event reaches the two other subscribers: two frames out.
    await sockets[0].send_json({"event": "client-x", "channel": channel, "data": {"n": 1}})
    for ws in sockets[1:]:
        assert (await ws.receive_json())["event"] == "client-x"
    delivered = await _scrape(client)
    assert (
        delivered["panamia_hub_messages_out_total"] >= during["panamia_hub_messages_out_total"] + 2
    )

    # A client event on a channel the socket did not join is refused.
    await sockets[0].send_json({"event": "client-x", "channel": "private-other", "data": {}})
    assert (await sockets[0].receive_json())["event"] == "pusher:error"
    rejected = await _scrape(client)
    assert rejected["panamia_hub_client_events_rejected_total"] == (
        before["panamia_hub_client_events_rejected_total"] + 1
    )
    for ws in sockets:
        await ws.close()
    for _ in range(100):
        if (await _scrape(client))["panamia_hub_connections"] == before["panamia_hub_connections"]:
            break
        await asyncio.sleep(0.05)
    assert (await _scrape(client))["panamia_hub_connections"] == before["panamia_hub_connections"]


async def test_relay_figures_come_from_the_registered_source(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    app = build_app(make_settings())
    live = {
        "sessions": 2,
        "peer_connections": 4,
        "streams": 8,
        "packets_forwarded": 900,
        "packets_fast": 850,
    }
    client = await aiohttp_client(app)
    app[keys.METRICS].relay_stats = lambda: live  # in place of the started RelayManager's
    values = await _scrape(client)
    assert (values["panamia_relay_sessions"], values["panamia_relay_streams"]) == (2, 8)
    assert values["panamia_relay_peer_connections"] == 4
    assert values["panamia_relay_packets_forwarded_total"] == 900
    assert values["panamia_relay_packets_fast_total"] == 850
    assert values["panamia_relay_packets_dropped_total"] == 0
    live["streams"] = 6  # read at scrape time, not copied once
    assert (await _scrape(client))["panamia_relay_streams"] == 6


async def test_two_apps_in_one_process_keep_separate_figures(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    first_app, second_app = build_app(make_settings()), build_app(make_settings())
    first, second = await aiohttp_client(first_app), await aiohttp_client(second_app)
    record_booking(first_app)
    record_booking(first_app)
    assert (await _scrape(first))["panamia_bookings_created_total"] == 2
    assert (await _scrape(second))["panamia_bookings_created_total"] == 0


async def test_booking_through_the_api_is_counted(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: Callable[..., Settings],
) -> None:
    server = await aiohttp_server(build_app(make_settings()))
    mentor = await connect(aiohttp_client, server)
    mentee = await connect(aiohttp_client, server)
    await sign_in(mentor, "mentor@example.com")
    await sign_in(mentee, "mentee@example.com")
    await become_mentor(mentor, timeZone="UTC")
    before = (await _scrape(mentor))["panamia_bookings_created_total"]
    response = await mentee.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": "mentor@example.com", "scheduledAt": slot(10), "duration": 30,
              "topic": "Counting bookings"},
    )  # fmt: skip
    assert response.status == 201, await response.text()
    assert (await _scrape(mentor))["panamia_bookings_created_total"] == before + 1


# --- POST /api/auth/loadtest --------------------------------------------------------------
async def test_loadtest_sign_in_is_absent_without_a_token(
    aiohttp_client: AiohttpClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(build_app(make_settings()))
    response = await client.post(
        "/api/auth/loadtest",
        json={"email": "a@loadtest.invalid"},
        headers={"Authorization": "Bearer "},
    )
    assert response.status == 404
    assert "error" in await response.json()


async def test_loadtest_sign_in_issues_a_session_for_test_addresses_only(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        live_server(make_settings, auth={"loadtest_token": LOADTEST_TOKEN}) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        endpoint = f"{url}/api/auth/loadtest"
        good = {"Authorization": f"Bearer {LOADTEST_TOKEN}"}

        async def post(body: object, headers: dict[str, str]) -> tuple[int, Any]:
            async with http.post(endpoint, json=body, headers=headers) as resp:
                return resp.status, await resp.json()

        status, body = await post({"email": "a@loadtest.invalid"}, {"Authorization": "Bearer x"})
        assert (status, body) == (401, {"error": "Unauthorized"})
        status, body = await post({"email": "a@loadtest.invalid"}, {})
        assert status == 401
        status, body = await post({"email": "boss@example.com"}, good)
        assert (status, body["field"]) == (400, "email")
        status, body = await post({"email": "a@loadtest.invalid", "admin": True}, good)
        assert (status, body["field"]) == (400, "admin")
        status, body = await post({"email": "Load.Tester@LOADTEST.invalid"}, good)
        assert status == 200 and body["email"] == "load.tester@loadtest.invalid"
        me_headers = {"Authorization": f"Bearer {body['token']}"}
        async with http.get(f"{url}/api/me", headers=me_headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["email"] == "load.tester@loadtest.invalid"


def test_the_production_app_mounts_metrics_and_the_loadtest_sign_in(
    make_settings: Callable[..., Settings],
) -> None:
    """``create_app`` itself serves both (the helper above only adds what it lacks)."""
    app = create_app(make_settings())
    paths = [r.get_info().get("path") for r in app.router.resources()]
    assert paths.count("/metrics") == 1
    assert paths.count("/api/auth/loadtest") == 1
