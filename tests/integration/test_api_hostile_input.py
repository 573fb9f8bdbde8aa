"""Input an attacker would send, on every route that reads a body: a 400 (or 413) with the
error shape, never a 500, and nothing in the log beyond a warning.

The JSON routes are taken from /api/openapi.json, so a new route is covered without editing
this file; the relay's offer route and the hub's HTTP API are added by hand.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from signaling.auth import sign_request
from store.models import Session
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client, connect, user
from tests.support.logs import no_errors_logged
from tests.support.sessions import open_room_start
from web import keys

MENTOR = "hostile-mentor@example.org"
MENTEE = "hostile-mentee@example.org"
LOADTEST_TOKEN = "hostile-loadtest-token"
DEPTH = 20_000

DEEP_BODIES = [
    b"[" * DEPTH + b"]" * DEPTH,  # about 40 KB of valid JSON
    b'{"email":' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    b'{"sdp":' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    b"[" * DEPTH,  # unclosed
]


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> TestServer:
    settings = make_settings(auth={"loadtest_token": LOADTEST_TOKEN})
    test_server: TestServer = await aiohttp_server(create_app(settings))
    return test_server


async def open_session(server: TestServer) -> str:
    session = Session("hostile1", MENTOR, MENTEE, open_room_start(), 30, "Hostile input")
    await server.app[keys.STORE].create_session(session)
    return session.session_id


def json_routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


async def test_deeply_nested_json_is_400_on_every_json_route(
    server: TestServer, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    anon = await connect(aiohttp_client, server)
    mentee = await user(aiohttp_client, server, MENTEE)
    session_id = await open_session(server)
    document = await (await anon.get("/api/openapi.json")).json()
    routes = json_routes(document)
    assert ("POST", "/api/auth/email") in routes
    assert ("POST", "/api/relay/sessions/{session_id}/offer") in routes
    bearer = {"Authorization": f"Bearer {LOADTEST_TOKEN}"}
    signed = await anon.post(
        "/api/auth/loadtest", json={"email": "a@loadtest.invalid"}, headers=bearer
    )
    load_user = {"Authorization": f"Bearer {(await signed.json())['token']}"}
    with no_errors_logged(caplog):
        for method, template in routes:
            path = re.sub(r"\{\w+\}", session_id, template)
            client: Client = mentee
            headers = {"Content-Type": "application/json"}
            if template == "/api/auth/loadtest":
                client, headers = anon, {**headers, **bearer}
            if template == "/api/auth/loadtest/session":  # only a load-test user may
                client, headers = anon, {**headers, **load_user}
            for raw in DEEP_BODIES:
                response = await client.request(method, path, data=raw, headers=headers)
                body = await response.json()
                assert response.status == 400, (method, template, raw[:12], body)
                assert isinstance(body["error"], str) and body["error"]
        for raw in DEEP_BODIES:  # the sign-in route, as a stranger
            response = await anon.post(
                "/api/auth/email", data=raw, headers={"Content-Type": "application/json"}
            )
            assert response.status == 400


async def test_deeply_nested_json_is_400_on_the_hub_http_api(
    server: TestServer, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Signed correctly (so the body is parsed), but nested 20,000 deep."""
    anon = await connect(aiohttp_client, server)
    pusher = server.app[keys.SETTINGS].pusher
    secret = server.app[keys.SECRETS].pusher_secret.reveal()
    deep = b"[" * DEPTH + b"]" * DEPTH
    bodies = [
        deep,
        b'{"name":"e","channels":["c"],"data":' + deep + b"}",
        b'{"batch":' + deep + b"}",
    ]
    with no_errors_logged(caplog):
        for endpoint in ("events", "batch_events"):
            path = f"/apps/{pusher.app_id}/{endpoint}"
            for raw in bodies:
                query = sign_request(pusher.key, secret, "POST", path, None, raw)
                response = await anon.post(path, params=query, data=raw)
                assert response.status == 400, (endpoint, raw[:20], await response.text())
                assert "JSON" in (await response.json())["error"]


MALFORMED_FORMS: list[tuple[str, str, bytes]] = [
    ("multipart without a boundary", "multipart/form-data", b"--x\r\n\r\nabc\r\n--x--\r\n"),
    (
        "a part without a name",
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data\r\n\r\n1.2\r\n--x--\r\n",
    ),
    (
        "a part without a disposition",
        "multipart/form-data; boundary=x",
        b"--x\r\n\r\nabc\r\n--x--\r\n",
    ),
    (
        "an unknown charset on a part",
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="socket_id"\r\n'
        b"Content-Type: text/plain; charset=klingon\r\n\r\n1.2\r\n--x--\r\n",
    ),
    (
        "a truncated multipart body",
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="socket_id"\r\n\r\n1.2',
    ),
    ("no starting boundary", "multipart/form-data; boundary=x", b"garbage"),
    (
        "an unknown charset",
        "application/x-www-form-urlencoded; charset=klingon",
        b"socket_id=1.2&channel_name=private-session-x",
    ),
    (
        "bytes that are not UTF-8",
        "application/x-www-form-urlencoded",
        b"socket_id=\xff\xfe&channel_name=private-session-x",
    ),
    (
        "bytes that are not in the declared charset",
        "application/x-www-form-urlencoded; charset=ascii",
        b"socket_id=\xe9&channel_name=private-session-x",
    ),
]


@pytest.mark.parametrize(("case", "content_type", "raw"), MALFORMED_FORMS)
async def test_a_malformed_form_to_pusher_auth_is_400(
    server: TestServer,
    aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
    case: str,
    content_type: str,
    raw: bytes,
) -> None:
    mentee = await user(aiohttp_client, server, MENTEE)
    with no_errors_logged(caplog):
        response = await mentee.post(
            "/api/pusher/auth", data=raw, headers={"Content-Type": content_type}
        )
        body = await response.json()
    assert response.status == 400, (case, body)
    assert set(body) == {"error", "field"}, body
    assert body["error"] and body["field"] == "socket_id"


async def test_pusher_auth_still_signs_well_formed_forms(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    """The 400s above are the malformed bodies only: both encodings pusher-js may use work."""
    mentee = await user(aiohttp_client, server, MENTEE)
    session_id = await open_session(server)
    fields = {"socket_id": "1.2", "channel_name": f"private-session-{session_id}"}
    response = await mentee.post("/api/pusher/auth", data=fields)
    assert response.status == 200, await response.text()
    boundary = "panamia"
    multipart = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    response = await mentee.post(
        "/api/pusher/auth",
        data=multipart.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status == 200, await response.text()


async def test_oversize_bodies_are_a_json_413_everywhere(
    server: TestServer, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Declared too large (Content-Length) or grown too large (chunked): the same answer."""
    mentee = await user(aiohttp_client, server, MENTEE)

    async def chunked(total: int) -> Any:
        yield b'{"bio":"'
        for _ in range(total // 65_536):
            yield b"a" * 65_536
        yield b'"}'

    oversize = b'{"bio":"' + b"a" * (1024 * 1024) + b'"}'
    with no_errors_logged(caplog):
        for path in ("/api/mentoring/profile", "/api/pusher/auth", "/api/auth/email"):
            method = "PATCH" if path.endswith("profile") else "POST"
            for data in (oversize, chunked(2 * 1024 * 1024)):
                response = await mentee.request(
                    method, path, data=data, headers={"Content-Type": "application/json"}
                )
                assert response.status == 413, path
                assert response.content_type == "application/json"
                assert "too large" in (await response.json())["error"]
        hub = f"/apps/{server.app[keys.SETTINGS].pusher.app_id}/events"
        for data in (oversize, chunked(2 * 1024 * 1024)):
            response = await mentee.post(hub, data=data)
            assert response.status == 413
            assert response.content_type == "application/json"


async def test_the_relay_offer_is_a_json_413_when_oversize(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    mentee = await user(aiohttp_client, server, MENTEE)
    path = f"/api/relay/sessions/{await open_session(server)}/offer"
    for body in (
        {"sdp": "v=0\r\n" + "a=x\r\n" * 20_000, "type": "offer"},
        {"sdp": "v=0\r\n", "type": "offer", "padding": "x" * 200_000},
    ):
        response = await mentee.post(path, data=json.dumps(body))
        assert response.status == 413
        assert (await response.json())["field"] == "sdp"
