"""Hostile request bodies: whatever arrives, a JSON body endpoint answers 400 with the error
shape, never a 500, and nothing of it reaches the store."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import Client, user

HOSTILE: list[bytes] = [
    b"",
    b"null",
    b'"text"',
    b"[]",
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b'{"email":' + b"[" * 100_000,
    b'{"bio":' + b'{"a":' * 50_000,
    b'{"mentoring":' * 50_000,
    b"\xff\xfe",
    b'{"email":"\xff"}',
    b'{"email":"\\ud800"}',
    b'{"hourlyRate":NaN}',
    b'{"hourlyRate":1e999}',
    b'{"duration":123456789012345678901234567890}',
    b'{"email":{"$ne":null}}',
    b'{"mentorEmail":{"$gt":""},"scheduledAt":{"$gt":""},"duration":60,"topic":"hello"}',
    b'{"action":{"$ne":null}}',
    b'{"socket_id":["1.2"],"channel_name":{"$regex":".*"}}',
    b'{"' + b"k" * 10_000 + b'":1}',
]

ENDPOINTS = [
    ("POST", "/api/auth/email"),
    ("PATCH", "/api/mentoring/profile"),
    ("POST", "/api/mentoring/sessions"),
    ("PATCH", "/api/mentoring/sessions/abc"),
    ("POST", "/api/pusher/auth"),
]


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, settings: Settings
) -> Client:
    server: TestServer = await aiohttp_server(create_app(settings))
    return await user(aiohttp_client, server, "someone@example.org")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_hostile_bodies_get_a_400_naming_what_is_wrong(
    client: Client, method: str, path: str
) -> None:
    for raw in HOSTILE:
        response = await client.request(
            method, path, data=raw, headers={"Content-Type": "application/json"}
        )
        body: Any = await response.json()
        assert response.status == 400, (raw[:40], body)
        assert isinstance(body["error"], str) and body["error"], raw[:40]
        assert set(body) <= {"error", "field"}, body
