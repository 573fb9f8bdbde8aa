"""Sign-out revokes the session token; "sign out everywhere" revokes every one of a person."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client, connect, sign_in
from web.auth import COOKIE_NAME


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> TestServer:
    return await aiohttp_server(create_app(make_settings()))


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of(client: Client, headers: dict[str, str]) -> int:
    return (await client.get("/api/me", headers=headers)).status


async def test_a_signed_out_token_is_refused_when_replayed(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    browser = await connect(aiohttp_client, server)
    token = await sign_in(browser, "ana@example.org")
    other_device = await connect(aiohttp_client, server)
    other = await sign_in(other_device, "ana@example.org")
    assert (await browser.get("/api/me")).status == 200

    signed_out = await browser.post("/api/auth/signout")
    assert signed_out.status == 204
    assert signed_out.cookies[COOKIE_NAME].value == ""

    replay = await connect(aiohttp_client, server)  # a fresh jar, the old cookie value
    assert await status_of(replay, cookie(token)) == 401
    assert await status_of(replay, bearer(token)) == 401
    page = await replay.get("/mentoring/profile", headers=cookie(token), allow_redirects=False)
    assert page.status in {302, 303}  # to the sign-in page
    assert await status_of(replay, bearer(other)) == 200  # the other device stays signed in
    # Signing out again with the dead token, or with none, is still a plain 204.
    assert (await replay.post("/api/auth/signout", headers=cookie(token))).status == 204
    assert (await replay.post("/api/auth/signout")).status == 204


async def test_signing_out_with_a_bearer_token_revokes_it(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    client = await connect(aiohttp_client, server)
    token = await sign_in(client, "bea@example.org")
    client.session.cookie_jar.clear()
    assert (await client.post("/api/auth/signout", headers=bearer(token))).status == 204
    assert await status_of(client, bearer(token)) == 401


async def test_sign_out_everywhere_ends_every_other_session(
    server: TestServer, aiohttp_client: AiohttpClient
) -> None:
    laptop, phone, tablet = [await connect(aiohttp_client, server) for _ in range(3)]
    laptop_token = await sign_in(laptop, "ana@example.org")
    phone_token = await sign_in(phone, "ana@example.org")
    bea = await connect(aiohttp_client, server)
    await sign_in(bea, "bea@example.org")

    assert (await tablet.post("/api/auth/signout-everywhere")).status == 401
    await sign_in(tablet, "ana@example.org")
    tablet_page = await tablet.get("/mentoring/profile")
    assert "Sign out everywhere" in await tablet_page.text()  # the profile page's button
    done = await phone.post("/api/auth/signout-everywhere")
    assert done.status == 204
    assert (await laptop.get("/api/me")).status == 401
    assert (await phone.get("/api/me")).status == 401
    assert (await tablet.get("/api/me")).status == 401
    for token in (laptop_token, phone_token):
        assert await status_of(tablet, cookie(token)) == 401
    assert (await laptop.post("/api/pusher/auth", data={"socket_id": "1.2"})).status == 401
    assert (await bea.get("/api/me")).status == 200  # other people are untouched

    await sign_in(laptop, "ana@example.org")  # a new sign-in works again
    assert (await laptop.get("/api/me")).status == 200
