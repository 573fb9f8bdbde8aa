"""Who may do what: 401 signed out, 403 for people outside a session, 404 for unknown ids,
and channel-auth signatures only for a session's two participants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from store.models import ChatMessage, Session
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client, become_mentor, connect, slot, user
from tests.support.sessions import open_room_start
from web import keys

PUSHER_SECRET = "test-pusher-secret"  # tests/conftest.py's make_settings
SOCKET_ID = "1234.5678"


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))


@pytest.fixture
async def people(
    aiohttp_client: AiohttpClient, server: TestServer
) -> tuple[Client, Client, Client, str]:
    """Mentor, mentee and an outsider, and the id of a session of the mentor and mentee whose
    room is open now (created in the store: booking only takes future times)."""
    mentor = await user(aiohttp_client, server, "mentor@example.org")
    mentee = await user(aiohttp_client, server, "mentee@example.org")
    outsider = await user(aiohttp_client, server, "outsider@example.org")
    await become_mentor(mentor)
    response = await mentee.post(
        "/api/mentoring/sessions",
        json={
            "mentorEmail": "mentor@example.org",
            "scheduledAt": slot(11),
            "duration": 30,
            "topic": "Career questions",
        },
    )
    assert response.status == 201, await response.text()
    session_id = uuid.uuid4().hex
    await server.app[keys.STORE].create_session(
        Session(
            session_id=session_id,
            mentor_email="mentor@example.org",
            mentee_email="mentee@example.org",
            scheduled_at=open_room_start(),
            duration=30,
            topic="Career questions",
        )
    )
    return mentor, mentee, outsider, session_id


SIGNED_IN_ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/mentoring/profile"),
    ("PATCH", "/api/mentoring/profile"),
    ("GET", "/api/mentoring/discover"),
    ("GET", "/api/mentoring/mentors/mentor@example.org/slots"),
    ("GET", "/api/mentoring/availability"),
    ("PUT", "/api/mentoring/availability"),
    ("GET", "/api/mentoring/sessions"),
    ("POST", "/api/mentoring/sessions"),
    ("GET", "/api/mentoring/sessions/abc"),
    ("PATCH", "/api/mentoring/sessions/abc"),
    ("GET", "/api/mentoring/sessions/abc/chat"),
    ("POST", "/api/pusher/auth"),
    ("GET", "/api/ice-servers"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_IN_ROUTES)
async def test_signed_out_is_401(
    aiohttp_client: AiohttpClient, server: TestServer, method: str, path: str
) -> None:
    client = await connect(aiohttp_client, server)
    response = await client.request(method, path, json={})
    assert response.status == 401
    assert await response.json() == {"error": "Unauthorized"}


async def test_a_garbage_cookie_is_signed_out(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    client = await connect(aiohttp_client, server)
    response = await client.get("/api/me", headers={"Cookie": "panamia_session=not.a.jwt"})
    assert response.status == 401


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"action": "update_notes", "notes": "mine now"}),
        ("PATCH", "", {"action": "cancel", "reason": "because"}),
        ("GET", "/chat", None),
    ],
)
async def test_outsiders_get_403_and_change_nothing(
    people: tuple[Client, Client, Client, str],
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    mentor, _mentee, outsider, session_id = people
    url = f"/api/mentoring/sessions/{session_id}{suffix}"
    response = await outsider.request(method, url, json=body)
    assert response.status == 403
    assert await response.json() == {"error": "Access denied"}
    view = (await (await mentor.get(f"/api/mentoring/sessions/{session_id}")).json())["session"]
    assert view["status"] == "scheduled" and view["notes"] == ""


@pytest.mark.parametrize("session_id", ["doesNotExist", "bad.id", "x" * 65])
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"action": "update_notes", "notes": "x"}),
        ("GET", "/chat", None),
    ],
)
async def test_unknown_sessions_are_404(
    people: tuple[Client, Client, Client, str],
    session_id: str,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    mentor = people[0]
    response = await mentor.request(
        method, f"/api/mentoring/sessions/{session_id}{suffix}", json=body
    )
    assert response.status == 404
    assert "error" in await response.json()


async def test_participants_read_the_chat_history(
    server: TestServer, people: tuple[Client, Client, Client, str]
) -> None:
    mentor, mentee, _outsider, session_id = people
    store = server.app[keys.STORE]
    await store.add_chat_message(
        ChatMessage(session_id, "mentee@example.org", "hello!", sender_name="Mentee")
    )
    for who in (mentor, mentee):
        messages = (await (await who.get(f"/api/mentoring/sessions/{session_id}/chat")).json())[
            "messages"
        ]
        assert [(m["sender"], m["text"]) for m in messages] == [("mentee@example.org", "hello!")]
        assert messages[0]["sessionId"] == session_id and messages[0]["id"]


def expected_auth(channel: str, channel_data: str | None = None) -> str:
    message = f"{SOCKET_ID}:{channel}" + (f":{channel_data}" if channel_data else "")
    digest = hmac.new(PUSHER_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"panamia-key:{digest}"


async def test_pusher_auth_signs_for_participants(
    people: tuple[Client, Client, Client, str],
) -> None:
    mentor, mentee, _outsider, session_id = people
    private = f"private-session-{session_id}"
    response = await mentee.post(
        "/api/pusher/auth", data={"socket_id": SOCKET_ID, "channel_name": private}
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"auth": expected_auth(private)}

    presence = f"presence-session-{session_id}"
    response = await mentor.post(
        "/api/pusher/auth", data={"socket_id": SOCKET_ID, "channel_name": presence}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert json.loads(body["channel_data"]) == {
        "user_id": "mentor@example.org",
        "user_info": {"name": "Mentor", "role": "mentor"},
    }
    assert body["auth"] == expected_auth(presence, body["channel_data"])


@pytest.mark.parametrize(
    "channel",
    [
        "private-session-{id}",
        "presence-session-{id}",
        "private-session-unknownSession",
        "private-anything",
        "public-session-{id}",
        "presence-session-a.b",
    ],
)
async def test_pusher_auth_refuses_outsiders_and_other_channels(
    people: tuple[Client, Client, Client, str], channel: str
) -> None:
    mentor, _mentee, outsider, session_id = people
    name = channel.format(id=session_id)
    asker = outsider if "{id}" in channel else mentor
    response = await asker.post(
        "/api/pusher/auth", data={"socket_id": SOCKET_ID, "channel_name": name}
    )
    assert response.status == 403
    assert await response.json() == {"error": "Access denied"}


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"socket_id": "abc", "channel_name": "private-session-x"}, "socket_id"),
        ({"channel_name": "private-session-x"}, "socket_id"),
        ({"socket_id": SOCKET_ID}, "channel_name"),
        ({"socket_id": SOCKET_ID, "channel_name": "x", "user": "admin"}, "user"),
    ],
)
async def test_pusher_auth_bad_form_names_the_field(
    people: tuple[Client, Client, Client, str], form: dict[str, str], field: str
) -> None:
    response = await people[0].post("/api/pusher/auth", data=form)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_pusher_auth_also_takes_a_json_body(
    people: tuple[Client, Client, Client, str],
) -> None:
    _mentor, mentee, _outsider, session_id = people
    private = f"private-session-{session_id}"
    body = {"socket_id": SOCKET_ID, "channel_name": private}
    response = await mentee.post("/api/pusher/auth", json=body)
    assert response.status == 200, await response.text()
    assert await response.json() == {"auth": expected_auth(private)}
    injected = await mentee.post(
        "/api/pusher/auth", json={"socket_id": {"$ne": None}, "channel_name": private}
    )
    assert injected.status == 400
    assert (await injected.json())["field"] == "socket_id"


async def test_ice_servers_without_turn_offer_the_builtin_stun(
    people: tuple[Client, Client, Client, str],
) -> None:
    response = await people[0].get("/api/ice-servers")
    assert response.status == 200
    body = await response.json()
    assert body["relay"] == {"mode": "auto", "connectTimeoutMs": 5000}
    [own] = body["iceServers"]
    [uri] = own["urls"]
    host, port = uri.removeprefix("stun:").rsplit(":", 1)
    assert host == "localhost" and int(port) > 0  # the port the responder got


async def test_ice_servers_mint_turn_credentials(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        turn={
            "uris": [
                "turn:turn.example.org:3478?transport=udp",
                "turn:turn.example.org:3478?transport=tcp",
            ],
            "shared_secret": "coturn-secret",
            "ttl_s": 600,
        }
    )
    server = await aiohttp_server(create_app(settings))
    client = await user(aiohttp_client, server, "ana@example.org")
    servers = (await (await client.get("/api/ice-servers")).json())["iceServers"]
    assert servers[0]["urls"][0].startswith("stun:localhost:")  # the built-in responder
    assert servers[1] == {"urls": ["stun:turn.example.org:3478"]}
    turn = servers[2]
    assert turn["urls"] == list(settings.turn.uris)
    expiry, _, who = turn["username"].partition(":")
    assert who == "ana@example.org" and expiry.isdigit()
    digest = hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()


OPERATOR_BODIES = [
    ("/api/auth/email", "POST", {"email": {"$gt": ""}}, "email"),
    ("/api/auth/email", "POST", {"email": "a@example.org", "next": {"$ne": None}}, "next"),
    (
        "/api/mentoring/sessions",
        "POST",
        {"mentorEmail": {"$ne": None}, "scheduledAt": slot(10), "duration": 30, "topic": "xxxxx"},
        "mentorEmail",
    ),
    ("/api/mentoring/profile", "PATCH", {"bio": {"$exists": True}}, "bio"),
    ("/api/mentoring/profile", "PATCH", {"$where": "1"}, "$where"),
]


@pytest.mark.parametrize(("path", "method", "body", "field"), OPERATOR_BODIES)
async def test_operator_bodies_are_400_never_queries(
    people: tuple[Client, Client, Client, str],
    path: str,
    method: str,
    body: dict[str, object],
    field: str,
) -> None:
    response = await people[1].request(method, path, json=body)
    assert response.status == 400, await response.text()
    assert (await response.json())["field"] == field


async def test_unknown_api_paths_answer_json(people: tuple[Client, Client, Client, str]) -> None:
    response = await people[0].get("/api/nothing-here")
    assert response.status == 404
    assert "error" in await response.json()
    response = await people[0].delete("/api/mentoring/profile")
    assert response.status == 405
    assert "error" in await response.json()
