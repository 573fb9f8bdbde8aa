"""The relay's HTTP routes in a small real aiohttp app, with real aiortc offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.media import loopback_host_addresses, offer
from config.settings import RelaySettings
from relay.api import make_relay_routes
from relay.manager import RelayManager
from tests.support.logs import no_errors_logged

Client = TestClient[Any, Any]
MakeClient = Callable[[web.Application], Awaitable[Client]]
PARTICIPANTS = {"s1": {"alice", "bob", "carol"}, "s2": {"alice"}}


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


async def authorize(request: web.Request, session_id: str) -> str:
    """The web layer's job in the app; here the caller names itself in a header."""
    user = request.headers.get("X-User", "")
    if user not in PARTICIPANTS.get(session_id, set()):
        raise web.HTTPForbidden(
            text='{"error": "not a participant"}', content_type="application/json"
        )
    return user


@pytest.fixture
async def relay() -> AsyncIterator[RelayManager]:
    manager = RelayManager(RelaySettings(max_sessions=1), [])
    yield manager
    await manager.close()


@pytest.fixture
async def client(relay: RelayManager, aiohttp_client: MakeClient) -> Client:
    app = web.Application()
    app.router.add_routes(make_relay_routes(relay, authorize))
    return await aiohttp_client(app)


def new_pc() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    return pc


async def post_offer(client: Client, session: str, user: str, body: Any) -> Any:
    return await client.post(
        f"/api/relay/sessions/{session}/offer", json=body, headers={"X-User": user}
    )


async def test_offer_answer_connects_and_leave_closes(client: Client, relay: RelayManager) -> None:
    pc = new_pc()
    sdp, kind = await offer(pc)
    response = await post_offer(client, "s1", "alice", {"sdp": sdp, "type": kind})
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "answer"
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
    for _ in range(200):
        if pc.connectionState == "connected":
            break
        await asyncio.sleep(0.05)
    assert pc.connectionState == "connected"
    assert relay.stats()["peer_connections"] == 1

    response = await client.post("/api/relay/sessions/s1/leave", headers={"X-User": "alice"})
    assert await response.json() == {"left": True}
    assert relay.stats()["sessions"] == 0
    response = await client.post("/api/relay/sessions/s1/leave", headers={"X-User": "alice"})
    assert await response.json() == {"left": False}
    await pc.close()


async def test_non_participants_are_refused(client: Client, relay: RelayManager) -> None:
    response = await post_offer(client, "s1", "mallory", {"sdp": "v=0", "type": "offer"})
    assert response.status == 403
    response = await client.post("/api/relay/sessions/s1/leave", headers={"X-User": "mallory"})
    assert response.status == 403
    assert relay.stats()["sessions"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "offer"}, "sdp"),
        ({"sdp": "", "type": "offer"}, "sdp"),
        ({"sdp": 12, "type": "offer"}, "sdp"),
        ({"sdp": "v=0\r\n", "type": "answer"}, "type"),
        ({"sdp": "this is not sdp", "type": "offer"}, "sdp"),
    ],
)
async def test_bad_offers_are_400_naming_the_field(
    client: Client, relay: RelayManager, body: dict[str, Any], field: str
) -> None:
    response = await post_offer(client, "s1", "alice", body)
    assert response.status == 400
    payload = await response.json()
    assert payload["field"] == field
    assert payload["error"]
    assert relay.stats()["sessions"] == 0
    assert relay.stats()["peer_connections"] == 0


async def test_body_that_is_not_json_is_400(client: Client) -> None:
    response = await client.post(
        "/api/relay/sessions/s1/offer", data=b"{nope", headers={"X-User": "alice"}
    )
    assert response.status == 400
    assert "JSON" in (await response.json())["error"]


async def _chunks(total: int) -> AsyncIterator[bytes]:
    """A body sent chunked, without Content-Length, so only reading it shows its size."""
    yield b'{"sdp":"'
    for _ in range(total // 10_000):
        yield b"a" * 10_000
    yield b'"}'


@pytest.mark.parametrize(
    "body",
    [
        {"sdp": "v=0\r\n" + "a=x\r\n" * 20_000, "type": "offer"},  # SDP over 64 KiB
        {"sdp": "v=0\r\n", "padding": "x" * 200_000},  # body over 128 KiB
    ],
)
async def test_oversize_offers_are_413(
    client: Client, relay: RelayManager, body: dict[str, Any]
) -> None:
    response = await post_offer(client, "s1", "alice", body)
    assert response.status == 413
    assert response.content_type == "application/json"
    payload = await response.json()
    assert payload["field"] == "sdp" and "too large" in payload["error"]
    assert relay.stats()["sessions"] == 0


@pytest.mark.parametrize("size", [200_000, 2_000_000])
async def test_an_oversize_chunked_offer_is_413(client: Client, size: int) -> None:
    response = await client.post(
        "/api/relay/sessions/s1/offer",
        data=_chunks(size),
        headers={"X-User": "alice", "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["field"] == "sdp"


async def test_a_deeply_nested_offer_is_400_with_a_warning_only(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b"[" * 20_000 + b"]" * 20_000
    with no_errors_logged(caplog):
        for body in (deep, b'{"sdp":' + deep + b"}"):
            response = await client.post(
                "/api/relay/sessions/s1/offer", data=body, headers={"X-User": "alice"}
            )
            assert response.status == 400
            assert "JSON" in (await response.json())["error"]


async def test_capacity_and_third_participant(client: Client, relay: RelayManager) -> None:
    pcs = [new_pc() for _ in range(4)]
    offers = [await offer(pc) for pc in pcs]

    for user, (sdp, kind) in zip(("alice", "bob"), offers, strict=False):
        response = await post_offer(client, "s1", user, {"sdp": sdp, "type": kind})
        assert response.status == 200

    sdp, kind = offers[2]
    response = await post_offer(client, "s1", "carol", {"sdp": sdp, "type": kind})
    assert response.status == 409
    assert "two" in (await response.json())["error"]

    # max_sessions is 1: a second session is refused, clearly.
    sdp, kind = offers[3]
    response = await post_offer(client, "s2", "alice", {"sdp": sdp, "type": kind})
    assert response.status == 503
    assert "1 sessions" in (await response.json())["error"]
    assert relay.stats()["sessions"] == 1
    assert relay.stats()["peer_connections"] == 2

    await relay.end("s1")
    assert relay.stats()["peer_connections"] == 0
    for pc in pcs:
        await pc.close()
