"""Test users and sessions through the public JSON API, as a browser would create them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

MENTOR_PROFILE: dict[str, Any] = {
    "enabled": True,
    "timeZone": "UTC",
    "bio": "Synthetic mentor created by the load tester.",
    "expertise": ["Load testing"],
    "languages": ["English"],
    "hourlyRate": 0,
}
TIMEOUT = aiohttp.ClientTimeout(total=30)


class ApiError(Exception):
    """A setup request failed; the message names the step and the server's answer."""


@dataclass
class ApiUser:
    email: str
    http: aiohttp.ClientSession
    base_url: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def call(self, step: str, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self.http.request(method, self.url(path), **kwargs) as resp:
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status >= 300:
                    error = body.get("error") if isinstance(body, dict) else body
                    raise ApiError(f"{step}: HTTP {resp.status} {error}")
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ApiError(f"{step}: {type(exc).__name__} {exc}") from exc

    async def close(self) -> None:
        await self.http.close()


async def sign_in(base_url: str, email: str, loadtest_token: str = "") -> ApiUser:
    """A signed-in user with its own HTTP session.

    With a load-test token: POST /api/auth/loadtest returns a session token used as Bearer.
    Without: the development sign-in (request a link, follow it, keep the cookie).
    """
    base_url = base_url.rstrip("/")
    if loadtest_token:
        probe = ApiUser(email, aiohttp.ClientSession(timeout=TIMEOUT), base_url)
        try:
            body = await probe.call(
                "load-test sign-in",
                "POST",
                "/api/auth/loadtest",
                json={"email": email},
                headers={"Authorization": f"Bearer {loadtest_token}"},
            )
        finally:
            await probe.close()
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ApiError("load-test sign-in: no token in the answer")
        http = aiohttp.ClientSession(timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"})
        return ApiUser(email, http, base_url)
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies from IP-address hosts too
    user = ApiUser(email, aiohttp.ClientSession(timeout=TIMEOUT, cookie_jar=jar), base_url)
    try:
        body = await user.call("sign-in link", "POST", "/api/auth/email", json={"email": email})
        link = body.get("devLink") if isinstance(body, dict) else None
        if not isinstance(link, str):
            raise ApiError("sign-in link: the server shows no devLink (is auth.dev_login on?)")
        parts = urlsplit(link)  # the link names public_url; we may reach the server otherwise
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        async with user.http.get(user.url(path), allow_redirects=False) as resp:
            if resp.status != 302 or "panamia_session" not in resp.cookies:
                raise ApiError(f"sign-in callback: HTTP {resp.status} and no session cookie")
    except BaseException:
        await user.close()
        raise
    return user


async def become_mentor(user: ApiUser) -> None:
    await user.call("mentor profile", "PATCH", "/api/mentoring/profile", json=MENTOR_PROFILE)


async def book(mentee: ApiUser, mentor_email: str, topic: str) -> str:
    """A session of the two starting now, so its room is open at once (rooms open only
    around a session's time). Uses the server's load-test session route, available with
    the load-test token or development sign-in, for @loadtest.invalid users."""
    body = await mentee.call(
        "booking",
        "POST",
        "/api/auth/loadtest/session",
        json={"mentorEmail": mentor_email, "topic": topic},
    )
    session = body.get("session") if isinstance(body, dict) else None
    if not isinstance(session, dict) or not isinstance(session.get("sessionId"), str):
        raise ApiError("booking: no sessionId in the answer")
    return str(session["sessionId"])


async def ice_servers(user: ApiUser) -> list[dict[str, Any]]:
    body = await user.call("ice servers", "GET", "/api/ice-servers")
    servers = body.get("iceServers") if isinstance(body, dict) else None
    return [s for s in servers if isinstance(s, dict)] if isinstance(servers, list) else []
