"""Signing users in against a real server, the way a browser does: request a link, follow it.

Each user gets their own :class:`TestClient` (own cookie jar) on one shared ``TestServer``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

Client = TestClient[Any, Any]

MENTOR_PROFILE: dict[str, Any] = {
    "enabled": True,
    "bio": "Backend engineer who loves teaching Python.",
    "expertise": ["Python", "System Design"],
    "languages": ["English", "Spanish"],
    "hourlyRate": 0,
}


def local_path(link: str) -> str:
    """The path and query of an absolute link (the test server's port differs)."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def request_link(client: Client, email: str, **extra: Any) -> str:
    response = await client.post("/api/auth/email", json={"email": email, **extra})
    assert response.status == 202, await response.text()
    body = await response.json()
    return str(body["devLink"])


async def follow_link(client: Client, link: str) -> ClientResponse:
    return await client.get(local_path(link), allow_redirects=False)


async def sign_in(client: Client, email: str) -> str:
    """Sign ``email`` in on ``client`` (its cookie jar keeps the session); return the JWT."""
    response = await follow_link(client, await request_link(client, email))
    assert response.status == 302, await response.text()
    return str(response.cookies["panamia_session"].value)


async def connect(factory: AiohttpClient, server: TestServer) -> Client:
    """A new client (own cookie jar) on a running test server."""
    client: Client = await factory(server)
    return client


async def user(factory: AiohttpClient, server: TestServer, email: str) -> Client:
    client = await connect(factory, server)
    await sign_in(client, email)
    return client


async def become_mentor(client: Client, **overrides: Any) -> dict[str, Any]:
    response = await client.patch("/api/mentoring/profile", json={**MENTOR_PROFILE, **overrides})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def future_day(days: int = 3) -> date:
    """The first Monday-Friday date at least ``days`` ahead (UTC): inside a new mentor's
    default hours, which leave weekends off."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def slot(hour: int, minute: int = 0, days: int = 3) -> str:
    """An ISO UTC start time ``days`` from today (bookable for a mentor in UTC)."""
    moment = datetime.combine(future_day(days), time(hour, minute), tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")
