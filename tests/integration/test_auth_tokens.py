"""Session tokens and the CSRF check: secret rotation by key id, forged or expired tokens,
Bearer tokens, and cross-site writes refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.loader import build_settings
from panamia.app import create_app
from store.models import utcnow
from tests.conftest import SettingsFactory
from tests.support.apiclient import MENTOR_PROFILE, connect, sign_in
from web.auth import decode_token, dev_login_enabled, issue_token, key_id

CURRENT = "current-signing-secret-0123456789abcdef"
PREVIOUS = "previous-signing-secret-0123456789abcdef"
STRANGER = "someone-elses-secret-0123456789abcdefgh"


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> TestServer:
    settings = make_settings(auth={"secret": CURRENT, "previous_secrets": [PREVIOUS]})
    return await aiohttp_server(create_app(settings))


def unsigned(claims: dict[str, object]) -> str:
    """A token claiming ``alg: none`` with an empty signature."""

    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': key_id(CURRENT)})}.{part(claims)}."


async def me_status(aiohttp_client: AiohttpClient, server: TestServer, token: str) -> int:
    client = await connect(aiohttp_client, server)
    response = await client.get("/api/me", headers={"Cookie": f"panamia_session={token}"})
    return response.status


async def test_current_and_previous_secrets_are_accepted(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    client = await connect(aiohttp_client, server)
    token = await sign_in(client, "ana@example.org")
    assert jwt.get_unverified_header(token)["kid"] == key_id(CURRENT)
    claims = jwt.decode(token, CURRENT, algorithms=["HS256"])
    assert claims["sub"] == "ana@example.org"
    assert claims["exp"] - claims["iat"] == 14 * 24 * 3600
    old = issue_token(PREVIOUS, "ana@example.org", 3600)
    assert await me_status(aiohttp_client, server, old) == 200


@pytest.mark.parametrize(
    "forge",
    [
        "unknown secret",
        "previous secret under the current kid",
        "expired",
        "no kid",
        "alg none",
        "no exp",
    ],
)
async def test_forged_or_stale_tokens_are_refused(
    aiohttp_client: AiohttpClient, server: TestServer, forge: str
) -> None:
    now = int(utcnow().timestamp())
    claims: dict[str, object] = {"sub": "ana@example.org", "iat": now, "exp": now + 3600}
    tokens = {
        "unknown secret": issue_token(STRANGER, "ana@example.org", 3600),
        "previous secret under the current kid": jwt.encode(
            claims, PREVIOUS, algorithm="HS256", headers={"kid": key_id(CURRENT)}
        ),
        "expired": issue_token(CURRENT, "ana@example.org", 60, utcnow() - timedelta(hours=1)),
        "no kid": jwt.encode(claims, CURRENT, algorithm="HS256"),
        "alg none": unsigned(claims),
        "no exp": jwt.encode(
            {"sub": "ana@example.org", "iat": now},
            CURRENT,
            algorithm="HS256",
            headers={"kid": key_id(CURRENT)},
        ),
    }
    assert await me_status(aiohttp_client, server, tokens[forge]) == 401


@pytest.mark.parametrize(
    ("http", "auth", "expected"),
    [
        ({"host": "127.0.0.1"}, {}, True),
        ({"host": "localhost"}, {}, True),
        ({"host": "::1"}, {}, True),
        ({"host": "0.0.0.0"}, {}, False),
        ({"host": "192.0.2.10"}, {}, False),
        ({"host": "127.0.0.1"}, {"smtp_host": "mail.example.org"}, False),
        ({"host": "0.0.0.0"}, {"dev_login": True}, True),
        ({"host": "127.0.0.1"}, {"dev_login": False}, False),
    ],
)
def test_dev_login_defaults_to_loopback_without_smtp(
    http: dict[str, object], auth: dict[str, object], expected: bool
) -> None:
    assert dev_login_enabled(build_settings({"http": http, "auth": auth})) is expected


def test_decode_round_trip() -> None:
    token = issue_token(CURRENT, "Ana@Example.org", 60)
    assert decode_token(token, [PREVIOUS, CURRENT]) == "ana@example.org"
    assert decode_token(token, [PREVIOUS]) is None
    assert decode_token("garbage", [CURRENT]) is None


async def test_bearer_tokens_work_and_skip_the_cookie(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    client = await connect(aiohttp_client, server)
    token = await sign_in(client, "ana@example.org")
    other = await connect(aiohttp_client, server)
    response = await other.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    # A bad Authorization header is not rescued by a good cookie.
    response = await client.get("/api/me", headers={"Authorization": "Bearer nope"})
    assert response.status == 401


# --- CSRF ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:8080"},
    ],
)
async def test_cross_site_writes_are_refused(
    aiohttp_client: AiohttpClient, server: TestServer, headers: dict[str, str]
) -> None:
    client = await connect(aiohttp_client, server)
    await sign_in(client, "ana@example.org")
    response = await client.patch(
        "/api/mentoring/profile", json={**MENTOR_PROFILE, "name": "Hacked"}, headers=headers
    )
    assert response.status == 403
    assert await response.json() == {"error": "Cross-site request refused"}
    signout = await client.post("/api/auth/signout", headers=headers)
    assert signout.status == 403
    profile = (await (await client.get("/api/mentoring/profile", headers=headers)).json())[
        "profile"
    ]
    assert profile["name"] == "Ana"  # reads pass, the write did not happen


async def test_same_origin_and_non_browser_writes_pass(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    client = await connect(aiohttp_client, server)
    token = await sign_in(client, "ana@example.org")
    own_origin = f"http://{server.host}:{server.port}"
    for headers in (
        {"Origin": own_origin, "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://localhost:8080"},  # the configured public URL
        {},
    ):
        response = await client.patch(
            "/api/mentoring/profile", json={"goals": "x"}, headers=headers
        )
        assert response.status == 200, (headers, await response.text())
    bearer = await connect(aiohttp_client, server)
    response = await bearer.patch(
        "/api/mentoring/profile",
        json={"goals": "y"},
        headers={"Authorization": f"Bearer {token}", "Origin": "https://tool.example"},
    )
    assert response.status == 200
