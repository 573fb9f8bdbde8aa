"""The room opens room.join_lead_minutes before a session's start and closes at its end, on
the server: the room page, channel auth, the notes and media sockets and the relay offer all
refuse a
session that is too early, over or cancelled, and serve one inside its window.

Sessions are created in the store with times relative to now; each case has its own two
people, so the cases never share a calendar.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from store.models import Session, SessionStatus
from tests.support.apiclient import Client, user
from web import keys
from web.notes import CLOSE_FORBIDDEN

LEAD = 10  # the default room.join_lead_minutes
CASES = {
    # name: (start relative to now, duration, status)
    "early": (timedelta(minutes=LEAD + 20), 30, SessionStatus.SCHEDULED),
    "inside": (timedelta(minutes=LEAD - 3), 30, SessionStatus.SCHEDULED),
    "ended": (timedelta(minutes=-61), 60, SessionStatus.SCHEDULED),
    "cancelled": (timedelta(minutes=-5), 30, SessionStatus.CANCELLED),
}
REFUSALS = {
    "early": "not open yet",
    "ended": "has ended",
    "cancelled": "was cancelled",
}


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    assert settings.room.join_lead_minutes == LEAD
    return await aiohttp_server(create_app(settings))


async def session_for(server: TestServer, factory: AiohttpClient, case: str) -> tuple[Client, str]:
    """The mentee's signed-in client and the id of a session in the given case."""
    offset, duration, status = CASES[case]
    mentor, mentee = f"mentor-{case}@example.org", f"mentee-{case}@example.org"
    store = server.app[keys.STORE]
    await store.ensure_profile(mentor, "Mentor")
    session_id = uuid.uuid4().hex
    await store.create_session(
        Session(
            session_id=session_id,
            mentor_email=mentor,
            mentee_email=mentee,
            scheduled_at=datetime.now(UTC).replace(microsecond=0) + offset,
            duration=duration,
            topic=f"Join window {case}",
            status=status,
            cancelled_by=mentor if status is SessionStatus.CANCELLED else None,
            cancel_reason="Something came up" if status is SessionStatus.CANCELLED else None,
        )
    )
    return await user(factory, server, mentee), session_id


@pytest.mark.parametrize("case", list(CASES))
async def test_room_page(server: TestServer, aiohttp_client: AiohttpClient, case: str) -> None:
    mentee, session_id = await session_for(server, aiohttp_client, case)
    response = await mentee.get(f"/mentoring/session/{session_id}")
    page = await response.text()
    if case == "inside":
        assert response.status == 200
        assert 'id="room-config"' in page
        return
    assert 'id="room-config"' not in page
    assert "room/room.js" not in page
    if case == "early":
        assert response.status == 403
        assert "The room is not open yet" in page
        assert 'id="room-countdown"' in page
    else:
        assert response.status == 200
        assert "The video call opens here" not in page
        expected = "This session was cancelled" if case == "cancelled" else "This session has ended"
        assert expected in page


@pytest.mark.parametrize("case", list(CASES))
async def test_channel_auth(server: TestServer, aiohttp_client: AiohttpClient, case: str) -> None:
    mentee, session_id = await session_for(server, aiohttp_client, case)
    for kind in ("private", "presence"):
        form = {"socket_id": "1234.5678", "channel_name": f"{kind}-session-{session_id}"}
        response = await mentee.post("/api/pusher/auth", data=form)
        body = await response.json()
        if case == "inside":
            assert response.status == 200, body
            assert body["auth"]
        else:
            assert response.status == 403
            assert REFUSALS[case] in body["error"]
            assert body["field"] == "sessionId"


async def _notes_close_code(server: TestServer, mentee: Client, session_id: str) -> Any:
    cookies = {m.key: m.value for m in mentee.session.cookie_jar}
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            server.make_url(f"/ws/notes/{session_id}"), headers={"Cookie": header}
        ) as ws,
    ):
        message = await ws.receive(timeout=10)
        if message.type is aiohttp.WSMsgType.BINARY:
            return "synced"
        return ws.close_code, message.extra


@pytest.mark.parametrize("case", list(CASES))
async def test_notes_socket(server: TestServer, aiohttp_client: AiohttpClient, case: str) -> None:
    mentee, session_id = await session_for(server, aiohttp_client, case)
    outcome = await _notes_close_code(server, mentee, session_id)
    if case == "inside":
        assert outcome == "synced"
    else:
        code, reason = outcome
        assert code == CLOSE_FORBIDDEN
        assert REFUSALS[case] in str(reason)


@pytest.mark.parametrize("case", list(CASES))
async def test_media_socket(server: TestServer, aiohttp_client: AiohttpClient, case: str) -> None:
    mentee, session_id = await session_for(server, aiohttp_client, case)
    cookies = {m.key: m.value for m in mentee.session.cookie_jar}
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            server.make_url(f"/ws/media/{session_id}"), headers={"Cookie": header}
        ) as ws,
    ):
        if case == "inside":
            await ws.send_str('{"type": "keyframe"}')  # accepted: nobody else to tell
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=0.3)
            assert not ws.closed
            return
        message = await ws.receive(timeout=10)
        assert ws.close_code == CLOSE_FORBIDDEN
        assert REFUSALS[case] in str(message.extra)


@pytest.mark.parametrize("case", list(CASES))
async def test_relay_offer(server: TestServer, aiohttp_client: AiohttpClient, case: str) -> None:
    mentee, session_id = await session_for(server, aiohttp_client, case)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
        response = await mentee.post(f"/api/relay/sessions/{session_id}/offer", json=offer)
        body = await response.json()
        if case == "inside":
            assert response.status == 200, body
            assert body["type"] == "answer"
        else:
            assert response.status == 403
            assert REFUSALS[case] in body["error"]
        # Hanging up is always allowed to a participant.
        assert (await mentee.post(f"/api/relay/sessions/{session_id}/leave")).status == 200
    finally:
        await pc.close()


async def test_a_longer_lead_opens_the_room_earlier(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, make_settings: Any
) -> None:
    server = await aiohttp_server(create_app(make_settings(room={"join_lead_minutes": 60})))
    mentee, session_id = await session_for(server, aiohttp_client, "early")
    form = {"socket_id": "1234.5678", "channel_name": f"private-session-{session_id}"}
    assert (await mentee.post("/api/pusher/auth", data=form)).status == 200
    page = await mentee.get("/mentoring/sessions")
    assert 'data-join-lead-minutes="60"' in await page.text()
