"""The relay as mounted by the composition root: who may use it and with which ICE servers."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc.rtcrtpsender import RTCRtpSender
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from relay import compat
from store.models import Session
from tests.conftest import SettingsFactory
from tests.support.apiclient import user
from tests.support.sessions import open_room_start
from web import keys
from web.relay import RELAY_USER, relay_ice_servers

MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"
OUTSIDER = "outsider@example.org"


def test_relay_peers_get_fresh_turn_credentials_one_url_each(
    make_settings: SettingsFactory,
) -> None:
    app = create_app(
        make_settings(turn={"uris": ["turn:turn.example.org:3478"], "shared_secret": "s3cret"})
    )
    servers = relay_ice_servers(app)
    assert all(isinstance(server.urls, str) for server in servers)  # aiortc reads one URL
    turn = [server for server in servers if str(server.urls).startswith("turn:")]
    assert {server.urls for server in turn} == {
        "turn:turn.example.org:3478?transport=udp",
        "turn:turn.example.org:3478?transport=tcp",
    }
    assert all(server.username and server.username.endswith(f":{RELAY_USER}") for server in turn)
    assert all(server.credential for server in turn)


def test_relay_without_turn_or_stun_gets_an_explicit_empty_list(
    make_settings: SettingsFactory,
) -> None:
    # aiortc falls back to a public STUN server when given None: the list must be explicit.
    assert relay_ice_servers(create_app(make_settings())) == []


async def test_only_participants_reach_the_relay(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    app = create_app(make_settings())
    server = await aiohttp_server(app)
    outsider = await user(aiohttp_client, server, OUTSIDER)
    start = open_room_start()
    await app[keys.STORE].create_session(
        Session("relaywiring1", MENTOR, MENTEE, start, 30, "Relay wiring")
    )
    body = {"sdp": "v=0\r\n", "type": "offer"}
    refused = await outsider.post("/api/relay/sessions/relaywiring1/offer", json=body)
    assert refused.status == 403
    assert (await refused.json())["error"] == "Access denied"
    unknown = await outsider.post("/api/relay/sessions/nosuchsession/offer", json=body)
    assert unknown.status == 404
    anonymous: TestClient[web.Request, None] = await aiohttp_client(server)
    assert (await anonymous.post("/api/relay/sessions/relaywiring1/offer", json=body)).status == 401
    assert app[keys.RELAY].stats()["sessions"] == 0


async def test_a_failed_relay_self_check_keeps_the_server_up_and_readyz_says_why(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fault injection: an aiortc release that renamed a private attribute the relay relies on.
    monkeypatch.delattr(RTCRtpSender, compat.SENDER_SEND_KEYFRAME)
    app = create_app(make_settings())
    server = await aiohttp_server(app)
    anonymous: TestClient[web.Request, None] = await aiohttp_client(server)

    ready = await anonymous.get("/readyz")
    assert ready.status == 503
    relay_problem = (await ready.json())["problems"]["relay"]
    assert "RTCRtpSender" in relay_problem and "'_send_keyframe'" in relay_problem
    assert "aiortc >=1.16,<1.17" in relay_problem
    assert (await anonymous.get("/healthz")).status == 200

    mentee = await user(aiohttp_client, server, MENTEE)
    start = open_room_start()
    await app[keys.STORE].create_session(
        Session("relaywiring2", MENTOR, MENTEE, start, 30, "Relay self-check")
    )
    offer = await mentee.post(
        "/api/relay/sessions/relaywiring2/offer", json={"sdp": "v=0\r\n", "type": "offer"}
    )
    assert offer.status == 503
    assert await offer.json() == {"error": relay_problem, "code": "relay_unavailable"}
