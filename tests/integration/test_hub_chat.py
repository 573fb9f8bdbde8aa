"""The whole app: participants authorise through POST /api/pusher/auth, chat on the session's
presence channel is stored by the hub and GET /api/mentoring/sessions/{id}/chat returns it.
A message that breaks the API's chat rule is refused by the hub: not delivered, not stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from panamia.app import create_app
from signaling.protocol import CloseCode
from store.models import Session
from store.validation import CHAT_TEXT_MAX
from tests.conftest import SettingsFactory
from tests.integration.conftest import PusherWS, eventually, frame_data
from tests.support.sessions import open_room_start
from web import keys
from web.auth import COOKIE_NAME, session_token_for

MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"
STRANGER = "stranger@example.org"


@pytest.fixture
async def app_server(make_settings: SettingsFactory) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(make_settings()), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def book(server: TestServer) -> str:
    store = server.app[keys.STORE]
    await store.ensure_profile(MENTOR, "Marta Mentor")
    await store.ensure_profile(MENTEE, "Mateo Mentee")
    session_id = uuid.uuid4().hex
    start = open_room_start()
    await store.create_session(
        Session(
            session_id=session_id,
            mentor_email=MENTOR,
            mentee_email=MENTEE,
            scheduled_at=start,
            duration=30,
            topic="Chat",
        )
    )
    return session_id


def cookie(server: TestServer, email: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={session_token_for(server.app, email)}"}


async def authorise(
    server: TestServer, email: str, socket_id: str, channel: str
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.make_url("/api/pusher/auth"),
            data={"socket_id": socket_id, "channel_name": channel},
            headers=cookie(server, email),
        ) as resp,
    ):
        return resp.status, await resp.json()


async def join(server: TestServer, email: str, channel: str) -> PusherWS:
    key = server.app[keys.SETTINGS].pusher.key
    client = await (await PusherWS.open(server, key=key)).connected()
    status, signed = await authorise(server, email, client.socket_id, channel)
    assert status == 200, signed
    await client.send("pusher:subscribe", {"channel": channel, **signed})
    await client.expect("pusher_internal:subscription_succeeded", channel)
    return client


async def history(server: TestServer, session_id: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            server.make_url(f"/api/mentoring/sessions/{session_id}/chat"),
            headers=cookie(server, MENTOR),
        ) as resp,
    ):
        assert resp.status == 200
        messages: list[dict[str, Any]] = (await resp.json())["messages"]
        return messages


async def test_chat_is_stored_and_listed_for_participants(app_server: TestServer) -> None:
    session_id = await book(app_server)
    channel = f"presence-session-{session_id}"
    mentor = await join(app_server, MENTOR, channel)
    mentee = await join(app_server, MENTEE, channel)
    try:
        added = await mentor.expect("pusher_internal:member_added", channel)
        assert frame_data(added)["user_info"] == {"name": "Mateo Mentee", "role": "mentee"}
        await mentee.send("client-chat-message", {"text": "Hola!"}, channel=channel)
        got = await mentor.expect("client-chat-message", channel)
        assert got["user_id"] == MENTEE

        async def stored() -> bool:
            return len(await history(app_server, session_id)) == 1

        await eventually(stored, "chat message stored")
        (message,) = await history(app_server, session_id)
        assert message["text"] == "Hola!"
        assert MENTEE in str(message)
        assert "Mateo Mentee" in str(message)
    finally:
        await mentor.close()
        await mentee.close()


async def test_only_participants_get_a_signature(app_server: TestServer) -> None:
    session_id = await book(app_server)
    key = app_server.app[keys.SETTINGS].pusher.key
    client = await (await PusherWS.open(app_server, key=key)).connected()
    try:
        for channel in (f"private-session-{session_id}", f"presence-session-{session_id}"):
            status, body = await authorise(app_server, STRANGER, client.socket_id, channel)
            assert status == 403, body
            # Without a signature the hub refuses the subscription.
            await client.send("pusher:subscribe", {"channel": channel})
            error = await client.expect("pusher:subscription_error", channel)
            assert frame_data(error)["status"] == 401
    finally:
        await client.close()


@pytest.mark.parametrize(
    "data",
    [{"text": "x" * (CHAT_TEXT_MAX + 1)}, {"text": "   "}, "not an object"],
    ids=["too-long", "blank", "not-an-object"],
)
async def test_a_message_breaking_the_chat_rule_is_refused(
    app_server: TestServer, data: Any
) -> None:
    session_id = await book(app_server)
    channel = f"presence-session-{session_id}"
    mentor = await join(app_server, MENTOR, channel)
    mentee = await join(app_server, MENTEE, channel)
    try:
        await mentor.expect("pusher_internal:member_added", channel)
        await mentee.send("client-chat-message", data, channel=channel)
        error = frame_data(await mentee.expect("pusher:error"))
        assert error["code"] == CloseCode.CLIENT_EVENT_REFUSED
        assert str(CHAT_TEXT_MAX) in error["message"] or "object" in error["message"]
        # The connection stays usable, and the refused message was neither sent nor kept:
        # the only chat frame the mentor gets is the message that follows the rule.
        longest = "y" * CHAT_TEXT_MAX
        await mentee.send("client-chat-message", {"text": longest}, channel=channel)
        got = await mentor.expect("client-chat-message", channel)
        assert got["data"] == {"text": longest}
        assert [f for f in mentor.frames if f["event"] == "client-chat-message"] == [got]

        async def stored() -> bool:
            return len(await history(app_server, session_id)) == 1

        await eventually(stored, "the valid message stored")
        assert [m["text"] for m in await history(app_server, session_id)] == [longest]
    finally:
        await mentor.close()
        await mentee.close()
