"""The operator console and the quality reports on the real app: who may see /admin, what a
report may carry, the rate limit, the summary stored when a call ends, the histograms and the
past-session search."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from store.models import Session
from tests.conftest import SettingsFactory
from tests.support.apiclient import connect, user
from tests.support.sessions import open_room_start
from web import keys

OPERATOR = "Ops@Example.org"
MENTOR = "mia@example.org"
MENTEE = "amara@example.org"
REPORT = {"connectionId": "page-load-1", "path": "turn-tcp", "rttMs": 80, "lossPct": 1.5}
PAGES = ("/admin", "/admin/sessions", "/admin/relay")


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> TestServer:
    settings = make_settings(
        admin={"emails": [OPERATOR]}, limits={"quality_burst": 4, "quality_per_minute": 1}
    )
    return await aiohttp_server(create_app(settings))


async def _open_session(server: TestServer, start_offset: timedelta = timedelta()) -> str:
    session_id = uuid.uuid4().hex
    await server.app[keys.STORE].create_session(
        Session(session_id, MENTOR, MENTEE, open_room_start() + start_offset, 60, "Portfolio")
    )
    return session_id


async def test_the_console_is_for_operators_only(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    anon = await connect(aiohttp_client, server)
    mentee = await user(aiohttp_client, server, MENTEE)
    operator = await user(aiohttp_client, server, OPERATOR.lower())
    session_id = await _open_session(server)
    for path in (*PAGES, f"/admin/sessions/{session_id}"):
        assert (await anon.get(path, allow_redirects=False)).status == 401, path
        refused = await mentee.get(path)
        assert refused.status == 403, path
        assert "admin.emails" in await refused.text()
        shown = await operator.get(path)
        assert shown.status == 200, path
        assert shown.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert (await operator.get("/admin/sessions/nosuch")).status == 404
    bad = await operator.get("/admin/sessions?from=2026-02-30")
    assert bad.status == 400
    assert "YYYY-MM-DD" in await bad.text()
    # The site header links operators, and only them, to the console.
    assert 'href="/admin"' in await (await operator.get("/mentoring/discover")).text()
    assert 'href="/admin"' not in await (await mentee.get("/mentoring/discover")).text()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rttMs": -1}, "rttMs"),
        ({"lossPct": 100.5}, "lossPct"),
        ({"fps": 1000}, "fps"),
        ({"width": 99999}, "width"),
        ({"bitrateInKbps": 1e12}, "bitrateInKbps"),
        ({"joinMs": -5}, "joinMs"),
        ({"path": "carrier-pigeon"}, "path"),
        ({"localCandidate": "magic"}, "localCandidate"),
        ({"limitation": "mood"}, "limitation"),
        ({"connectionId": "short"}, "connectionId"),
        ({"connectionId": "x" * 65}, "connectionId"),
        ({"rttMs": {"$gt": 0}}, "rttMs"),
        ({"rttMs": "12"}, "rttMs"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_a_report_out_of_range_is_refused_naming_the_field(
    server: TestServer, aiohttp_client: AiohttpClient, change: dict[str, Any], field: str
) -> None:
    mentee = await user(aiohttp_client, server, MENTEE)
    session_id = await _open_session(server)
    answer = await mentee.post(
        f"/api/mentoring/sessions/{session_id}/quality", json={**REPORT, **change}
    )
    assert answer.status == 400
    assert (await answer.json())["field"] == field


async def test_reports_are_limited_and_only_while_the_room_is_open(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    mentee = await user(aiohttp_client, server, MENTEE)
    later = await _open_session(server, timedelta(days=3))
    early = await mentee.post(f"/api/mentoring/sessions/{later}/quality", json=REPORT)
    assert early.status == 403
    assert "not open yet" in (await early.json())["error"]

    session_id = await _open_session(server)
    path = f"/api/mentoring/sessions/{session_id}/quality"
    statuses = [(await mentee.post(path, json=REPORT)).status for _ in range(5)]
    assert statuses == [200] * 4 + [429]
    refused = await mentee.post(path, json=REPORT)
    assert int(refused.headers["Retry-After"]) >= 1
    metrics = await (await mentee.get("/metrics")).text()
    assert 'panamia_rate_limited_total{limit="quality"} 2.0' in metrics


async def test_a_call_leaves_its_summary_and_feeds_the_histograms(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    mentee = await user(aiohttp_client, server, MENTEE)
    mentor = await user(aiohttp_client, server, MENTOR)
    operator = await user(aiohttp_client, server, OPERATOR.lower())
    session_id = await _open_session(server)
    path = f"/api/mentoring/sessions/{session_id}/quality"
    first = {**REPORT, "bitrateInKbps": 900, "fps": 30, "width": 640, "height": 480}
    assert (await mentee.post(path, json={**first, "joinMs": 1800})).status == 200
    poor = await mentee.post(path, json={**first, "lossPct": 9, "limitation": "bandwidth"})
    assert await poor.json() == {"poor": True}
    assert (await mentor.post(path, json={**REPORT, "path": "direct", "fps": 4})).status == 200

    live = await (await operator.get("/api/admin/live")).json()
    [shown] = live["sessions"]
    assert shown["sessionId"] == session_id
    assert {p["email"]: p["path"] for p in shown["participants"]} == {
        MENTEE: "turn-tcp",
        MENTOR: "direct",
    }
    relay = await (await operator.get("/api/admin/relay")).json()
    assert relay["turnByTransport"] == {"turn-tcp": 1, "direct": 1}
    assert len(relay["activity"]) == 24

    # Hang-up: the last report says so and the summary is stored at once.
    assert (await mentee.post(path, json={**first, "final": True})).status == 200
    summaries = {s.email: s for s in await server.app[keys.STORE].quality_summaries(session_id)}
    amara = summaries[MENTEE]
    assert amara.reports == 3
    assert amara.path == "turn-tcp"
    assert amara.loss_pct_max == 9
    assert amara.limitation == "bandwidth"
    assert amara.poor_reports == 1
    assert amara.join_ms == 1800
    assert amara.resolution == "640x480"
    assert summaries[MENTOR].poor_reports == 1  # 4 fps

    found = await operator.get("/api/admin/sessions", params={"participant": "AMARA"})
    [past] = (await found.json())["sessions"]
    assert past["sessionId"] == session_id
    assert {s["email"] for s in past["summaries"]} == {MENTEE, MENTOR}
    page = await (await operator.get("/admin/sessions", params={"participant": "amara"})).text()
    assert "TURN TCP" in page and session_id in page

    metrics = await (await mentee.get("/metrics")).text()
    assert 'panamia_call_rtt_seconds_count{path="turn-tcp"} 3.0' in metrics
    assert 'panamia_call_packet_loss_ratio_count{path="direct"} 0.0' not in metrics
    assert "panamia_call_join_seconds_count 1.0" in metrics


async def test_in_a_cluster_any_node_shows_every_live_call(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    make_settings: SettingsFactory,
    redis_url: str,
) -> None:
    """Two nodes on one Redis and one store: a report received by node A is live on node B's
    console (named as A's), with its series; hanging up takes it off both."""
    nodes = []
    for port in (8101, 8102):
        settings = make_settings(
            http={"port": port}, bus={"redis_url": redis_url}, admin={"emails": [OPERATOR]}
        )
        nodes.append(await aiohttp_server(create_app(settings)))
    node_a, node_b = nodes
    session_id = await _open_session(node_a)
    mentee = await user(aiohttp_client, node_a, MENTEE)
    operator_b = await user(aiohttp_client, node_b, OPERATOR.lower())
    path = f"/api/mentoring/sessions/{session_id}/quality"
    for bitrate in (700, 900):
        body = {**REPORT, "bitrateInKbps": bitrate}
        assert (await mentee.post(path, json=body)).status == 200

    live = await (await operator_b.get("/api/admin/live")).json()
    [shown] = [s for s in live["sessions"] if s["sessionId"] == session_id]
    assert shown["node"].endswith(":8101") and live["node"].endswith(":8102")
    assert [p["path"] for p in shown["participants"]] == ["turn-tcp"]
    detail = await (await operator_b.get(f"/api/admin/sessions/{session_id}")).json()
    assert [p["bitrateInKbps"] for p in detail["series"][MENTEE]] == [700, 900]
    page = await (await operator_b.get("/admin")).text()
    assert f'data-live-session="{session_id}"' in page

    assert (await mentee.post(path, json={**REPORT, "final": True})).status == 200
    live = await (await operator_b.get("/api/admin/live")).json()
    assert session_id not in {s["sessionId"] for s in live["sessions"]}
