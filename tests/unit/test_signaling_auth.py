"""Channel-auth and HTTP API signatures, checked against the official ``pusher`` SDK."""

from __future__ import annotations

import hashlib
import time

import pusher
import pytest
from pusher.http import Request as SdkRequest

from signaling import auth


def sdk() -> pusher.Pusher:
    return pusher.Pusher(app_id="1", key="key", secret="secret", host="h", ssl=False)


def test_channel_signature_matches_the_sdk() -> None:
    ours = auth.sign_channel("key", "secret", "123.456", "private-a")
    assert ours == sdk().authenticate(channel="private-a", socket_id="123.456")["auth"]
    member = {"user_id": "u", "user_info": {"name": "N"}}
    presence = sdk().authenticate(channel="presence-a", socket_id="1.2", custom_data=member)
    data = presence["channel_data"]
    assert auth.sign_channel("key", "secret", "1.2", "presence-a", data) == presence["auth"]


def test_verify_channel() -> None:
    good = auth.sign_channel("key", "secret", "1.2", "private-a")
    assert auth.verify_channel("key", "secret", "1.2", "private-a", good)
    assert not auth.verify_channel("key", "secret", "1.3", "private-a", good)
    assert not auth.verify_channel("key", "other", "1.2", "private-a", good)
    assert not auth.verify_channel("key", "secret", "1.2", "private-a", None)
    assert not auth.verify_channel("key", "secret", "1.2", "private-a", good, "{}")


def test_user_signature_matches_the_sdk() -> None:
    user = sdk().authenticate_user("1.2", {"id": "u"})
    assert auth.verify_user("key", "secret", "1.2", user["user_data"], user["auth"])


def test_sdk_requests_verify() -> None:
    client = sdk()._pusher_client
    for request in (
        client.trigger.make_request(["a", "b"], "event", {"x": 1}),
        client.channels_info.make_request("presence-", ["user_count"]),
        client.users_info.make_request("presence-a"),
    ):
        assert isinstance(request, SdkRequest)
        auth.verify_request(
            "key", "secret", request.method, request.path, request.query_params, request.body
        )


def test_our_signed_requests_verify_and_tampering_fails() -> None:
    body = b'{"name":"e"}'
    query = auth.sign_request("key", "secret", "POST", "/apps/1/events", {"x": "y"}, body)
    auth.verify_request("key", "secret", "POST", "/apps/1/events", query, body)
    with pytest.raises(auth.RequestAuthError) as wrong_path:
        auth.verify_request("key", "secret", "POST", "/apps/2/events", query, body)
    assert wrong_path.value.field == "auth_signature"
    with pytest.raises(auth.RequestAuthError) as wrong_body:
        auth.verify_request("key", "secret", "POST", "/apps/1/events", query, body + b" ")
    assert wrong_body.value.field == "body_md5"
    with pytest.raises(auth.RequestAuthError):
        auth.verify_request("key", "secret", "POST", "/apps/1/events", dict(query, x="z"), body)
    with pytest.raises(auth.RequestAuthError):
        auth.verify_request("key", "secret", "GET", "/apps/1/events", query, body)


def test_timestamps_more_than_600_seconds_off_are_refused() -> None:
    now = int(time.time())
    for skew, ok in ((-599, True), (599, True), (-700, False), (700, False)):
        query = auth.sign_request("key", "secret", "GET", "/p", timestamp=now + skew)
        if ok:
            auth.verify_request("key", "secret", "GET", "/p", query, b"", now=now)
        else:
            with pytest.raises(auth.RequestAuthError) as refused:
                auth.verify_request("key", "secret", "GET", "/p", query, b"", now=now)
            assert refused.value.field == "auth_timestamp"


def test_a_body_needs_body_md5() -> None:
    query = auth.sign_request("key", "secret", "POST", "/p")
    with pytest.raises(auth.RequestAuthError) as missing:
        auth.verify_request("key", "secret", "POST", "/p", query, b"{}")
    assert missing.value.field == "body_md5"


def test_webhook_signature_validates_with_the_sdk() -> None:
    body = b'{"time_ms": %d, "events": []}' % int(time.time() * 1000)
    signature = auth.webhook_signature("secret", body)
    assert sdk().validate_webhook("key", signature, body) is not None
    assert auth.body_md5(b"") == hashlib.md5(b"").hexdigest()  # noqa: S324
