"""Sign-in by e-mail link: single use, expiry, throttling, cookie flags, redirects, sign-out
and delivery through the outbox to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from store.models import utcnow
from tests.conftest import SettingsFactory
from tests.support.apiclient import connect, follow_link, local_path, request_link
from tests.support.procs import free_port
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web import keys
from web.auth import hash_link_token, new_link_token


async def start(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, **sections: dict[str, object]
) -> TestServer:
    return await aiohttp_server(create_app(make_settings(**sections)))


async def test_a_link_signs_in_once(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings)
    client = await connect(aiohttp_client, server)
    link = await request_link(client, "New.Person@Example.org", next="/mentoring/discover")
    assert link.startswith("http://localhost:8080/auth/callback?token=")

    first = await follow_link(client, link)
    assert first.status == 302
    assert first.headers["Location"] == "/mentoring/discover"
    me = await (await client.get("/api/me")).json()
    assert me["email"] == "new.person@example.org"
    assert me["name"] == "New Person"  # profile created on first sign-in

    other = await connect(aiohttp_client, server)
    second = await follow_link(other, link)
    assert second.status == 302
    assert second.headers["Location"] == "/signin?error=link"
    assert "panamia_session" not in second.cookies
    assert (await other.get("/api/me")).status == 401


async def test_default_redirect_and_refused_next(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings)
    client = await connect(aiohttp_client, server)
    response = await follow_link(client, await request_link(client, "a@example.org"))
    assert response.headers["Location"] == "/mentoring/sessions"
    for bad in ("https://evil.example/", "//evil.example/"):
        refused = await client.post("/api/auth/email", json={"email": "a@example.org", "next": bad})
        assert refused.status == 400
        assert (await refused.json())["field"] == "next"
    # A next tampered with in the link itself is refused as well.
    tampered = local_path(await request_link(client, "b@example.org")) + "&next=//evil.example"
    assert (await client.get(tampered, allow_redirects=False)).headers["Location"] == (
        "/signin?error=link"
    )


async def test_an_expired_link_is_refused(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings)
    token = new_link_token()
    await server.app[keys.STORE].add_login_token(
        hash_link_token(token), "late@example.org", utcnow() - timedelta(seconds=1)
    )
    client = await connect(aiohttp_client, server)
    response = await client.get(f"/auth/callback?token={token}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/signin?error=link"
    assert (await client.get("/api/me")).status == 401


@pytest.mark.parametrize("token", ["", "short", "a" * 43 + "$", "x" * 500])
async def test_malformed_tokens_are_refused(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    token: str,
) -> None:
    client = await connect(aiohttp_client, await start(aiohttp_server, make_settings))
    response = await client.get("/auth/callback", params={"token": token}, allow_redirects=False)
    assert response.headers["Location"] == "/signin?error=link"


async def test_link_requests_are_throttled_per_address(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings, auth={"link_requests_per_hour": 2})
    client = await connect(aiohttp_client, server)
    for _ in range(2):
        await request_link(client, "busy@example.org")
    throttled = await client.post("/api/auth/email", json={"email": "BUSY@example.org"})
    assert throttled.status == 429
    assert (await throttled.json())["field"] == "email"
    await request_link(client, "calm@example.org")  # other addresses are unaffected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({}, "email"),
        ({"email": ["a@example.org"]}, "email"),
        ({"email": "a@example.org", "remember": True}, "remember"),
    ],
)
async def test_bad_link_requests_name_the_field(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    body: dict[str, object],
    field: str,
) -> None:
    client = await connect(aiohttp_client, await start(aiohttp_server, make_settings))
    response = await client.post("/api/auth/email", json=body)
    assert response.status == 400
    assert (await response.json())["field"] == field


def set_cookie_header(response: object) -> str:
    headers = response.headers  # type: ignore[attr-defined]
    (value,) = [v for v in headers.getall("Set-Cookie") if v.startswith("panamia_session=")]
    return str(value)


async def test_cookie_flags_over_http(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    client = await connect(aiohttp_client, await start(aiohttp_server, make_settings))
    response = await follow_link(client, await request_link(client, "a@example.org"))
    cookie = set_cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie


async def test_cookie_is_secure_under_https(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(
        aiohttp_server, make_settings, http={"public_url": "https://mentoring.example.org"}
    )
    client = await connect(aiohttp_client, server)
    link = await request_link(client, "a@example.org")
    assert link.startswith("https://mentoring.example.org/auth/callback?")
    cookie = set_cookie_header(await follow_link(client, link)).lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_sign_out_clears_the_cookie(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    client = await connect(aiohttp_client, await start(aiohttp_server, make_settings))
    await follow_link(client, await request_link(client, "a@example.org"))
    assert (await client.get("/api/me")).status == 200
    response = await client.post("/api/auth/signout")
    assert response.status == 204
    assert "max-age=0" in set_cookie_header(response).lower()
    assert (await client.get("/api/me")).status == 401


async def test_no_dev_link_when_dev_login_is_off(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings, auth={"dev_login": False})
    client = await connect(aiohttp_client, server)
    response = await client.post("/api/auth/email", json={"email": "a@example.org"})
    assert response.status == 202
    assert await response.json() == {"sent": True}


# --- SMTP ---------------------------------------------------------------------------------
@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


async def test_links_are_mailed_through_smtp(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    server = await start(
        aiohttp_server, make_settings, auth={"dev_login": False}, mail=mail_settings(port)
    )
    client = await connect(aiohttp_client, server)
    response = await client.post("/api/auth/email", json={"email": "mail@example.org"})
    assert response.status == 202, await response.text()
    assert await response.json() == {"sent": True}
    (message,) = await asyncio.to_thread(recorder.wait_for, 1)
    assert message["To"] == "mail@example.org"
    body = message.get_content()
    match = re.search(r"http://localhost:8080/auth/callback\?token=[A-Za-z0-9_-]+", body)
    assert match is not None, body
    signed_in = await follow_link(client, match.group(0))
    assert signed_in.status == 302
    assert (await (await client.get("/api/me")).json())["email"] == "mail@example.org"


async def test_an_unreachable_smtp_server_does_not_hold_up_the_request(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    """The link waits in the outbox and is retried; the page answers at once."""
    server = await start(
        aiohttp_server,
        make_settings,
        auth={"dev_login": False},
        mail=mail_settings(free_port(), retry_base_s=60.0),
    )
    client = await connect(aiohttp_client, server)
    response = await client.post("/api/auth/email", json={"email": "mail@example.org"})
    assert response.status == 202
    store = server.app[keys.STORE]
    for _ in range(200):
        [queued] = await store.list_mail_for("mail@example.org")
        if queued.last_error:
            break
        await asyncio.sleep(0.05)
    assert queued.status.value == "pending" and queued.attempts == 1
    assert queued.last_error is not None
