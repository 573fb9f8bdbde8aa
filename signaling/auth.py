"""Pusher signatures: channel authorization, HTTP API request signing, webhook signing.

Everything here is a pure function over strings and bytes so the web app (which signs
``POST /api/pusher/auth`` answers), the hub (which verifies them) and tests share one
implementation.

Schemes, as in Pusher Channels:

- channel auth: ``"{key}:" + hex(HMAC-SHA256(secret, "{socket_id}:{channel}[:{channel_data}]"))``
- user sign-in: the same with ``"{socket_id}::user::{user_data}"``
- HTTP API: query parameters ``auth_key``, ``auth_timestamp``, ``auth_version=1.0``,
  ``body_md5`` (hex MD5 of the body) and ``auth_signature`` = hex(HMAC-SHA256(secret,
  "METHOD\\nPATH\\nQUERY")) where QUERY is every other parameter, keys lower-cased, sorted by
  key, joined as ``k=v`` with ``&`` and not URL-encoded.
- webhooks: ``X-Pusher-Key`` and ``X-Pusher-Signature`` = hex(HMAC-SHA256(secret, body)).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

AUTH_VERSION = "1.0"
MAX_CLOCK_SKEW_S = 600
"""HTTP API requests whose auth_timestamp is further than this from our clock are refused."""


def hmac_sha256(secret: str, message: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``message`` (UTF-8 when text) under ``secret``."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def channel_string(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    """The text a channel authorization signs."""
    text = f"{socket_id}:{channel}"
    return f"{text}:{channel_data}" if channel_data is not None else text


def sign_channel(
    key: str, secret: str, socket_id: str, channel: str, channel_data: str | None = None
) -> str:
    """The ``auth`` value a client sends with ``pusher:subscribe``: ``"key:hexdigest"``."""
    return f"{key}:{hmac_sha256(secret, channel_string(socket_id, channel, channel_data))}"


def verify_channel(
    key: str,
    secret: str,
    socket_id: str,
    channel: str,
    auth: object,
    channel_data: str | None = None,
) -> bool:
    """True when ``auth`` is a valid signature of this subscription (constant-time compare)."""
    if not isinstance(auth, str):
        return False
    expected = sign_channel(key, secret, socket_id, channel, channel_data)
    return hmac.compare_digest(auth.encode(), expected.encode())


def sign_user(key: str, secret: str, socket_id: str, user_data: str) -> str:
    """The ``auth`` value of ``pusher:signin`` (user authentication)."""
    return f"{key}:{hmac_sha256(secret, f'{socket_id}::user::{user_data}')}"


def verify_user(key: str, secret: str, socket_id: str, user_data: str, auth: object) -> bool:
    if not isinstance(auth, str):
        return False
    expected = sign_user(key, secret, socket_id, user_data)
    return hmac.compare_digest(auth.encode(), expected.encode())


def webhook_signature(secret: str, body: bytes) -> str:
    """Value of the ``X-Pusher-Signature`` header for a webhook body."""
    return hmac_sha256(secret, body)


def body_md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _query_string(params: Mapping[str, str]) -> str:
    items = sorted((k.lower(), v) for k, v in params.items() if k.lower() != "auth_signature")
    return "&".join(f"{k}={v}" for k, v in items)


def request_string(method: str, path: str, params: Mapping[str, str]) -> str:
    """The text an HTTP API request signature covers."""
    return f"{method.upper()}\n{path}\n{_query_string(params)}"


def sign_request(
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, str] | None = None,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    """Query parameters (``params`` plus the auth ones) for a signed HTTP API request."""
    query = dict(params or {})
    query.update(
        auth_key=key,
        auth_timestamp=str(int(time.time()) if timestamp is None else timestamp),
        auth_version=AUTH_VERSION,
    )
    if body:
        query["body_md5"] = body_md5(body)
    query["auth_signature"] = hmac_sha256(secret, request_string(method, path, query))
    return query


class RequestAuthError(Exception):
    """An HTTP API request whose signature does not check out; ``status`` is 401 or 400."""

    def __init__(self, message: str, status: int = 401, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def verify_request(
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> None:
    """Check an HTTP API request's signature; raise :class:`RequestAuthError` when it fails.

    ``params`` are the decoded query parameters (each key once).
    """
    lowered = {k.lower(): v for k, v in params.items()}
    if lowered.get("auth_key") != key:
        raise RequestAuthError("Unknown auth_key", field="auth_key")
    if lowered.get("auth_version", AUTH_VERSION) != AUTH_VERSION:
        raise RequestAuthError("Unsupported auth_version", status=400, field="auth_version")
    stamp = lowered.get("auth_timestamp", "")
    if not stamp.isdigit():
        raise RequestAuthError("Missing or malformed auth_timestamp", field="auth_timestamp")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > MAX_CLOCK_SKEW_S:
        raise RequestAuthError(
            f"Timestamp expired: given {stamp}, current {int(current)}", field="auth_timestamp"
        )
    given_md5 = lowered.get("body_md5")
    if given_md5 is not None or body:
        if given_md5 is None:
            raise RequestAuthError("Missing body_md5", field="body_md5")
        if not hmac.compare_digest(given_md5.encode(), body_md5(body).encode()):
            raise RequestAuthError("body_md5 does not match the body", field="body_md5")
    signature = lowered.get("auth_signature", "")
    expected = hmac_sha256(secret, request_string(method, path, params))
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise RequestAuthError("Invalid signature", field="auth_signature")
