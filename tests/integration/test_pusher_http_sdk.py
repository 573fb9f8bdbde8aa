"""The official ``pusher`` PyPI SDK against our HTTP API on a real port, plus the API's own
rules (signatures, body_md5, limits) and signed webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pusher
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from signaling.auth import sign_request
from signaling.hub import HubLimits
from signaling.webhooks import WebhookPolicy
from tests.integration.conftest import (
    APP_ID,
    KEY,
    SECRET,
    api_call,
    eventually,
)


def sdk(server: TestServer, secret: str = SECRET) -> pusher.Pusher:
    return pusher.Pusher(
        app_id=APP_ID, key=KEY, secret=secret, host="127.0.0.1", port=server.port, ssl=False
    )


async def test_sdk_trigger_reaches_subscribers(hub_server: Any, pusher_clients: Any) -> None:
    server = await hub_server()
    alice = await pusher_clients(server)
    bob = await pusher_clients(server)
    for c in (alice, bob):
        await c.subscribe("private-updates")
        await c.subscribe("news")
    client = sdk(server)
    result = await asyncio.to_thread(
        client.trigger, ["news", "private-updates"], "greeting", {"hello": "world"}
    )
    assert result == {}
    for c in (alice, bob):
        got = await c.expect("greeting", "news")
        assert json.loads(got["data"]) == {"hello": "world"}
        await c.expect("greeting", "private-updates")
    # socket_id excludes that connection.
    await asyncio.to_thread(client.trigger, "news", "only-bob", "x", alice.socket_id)
    assert (await bob.expect("only-bob"))["data"] == "x"
    await alice.send("pusher:ping")
    await alice.expect("pusher:pong")
    assert not [f for f in alice.frames if f["event"] == "only-bob"]


async def test_sdk_batch_and_channel_queries(hub_server: Any, pusher_clients: Any) -> None:
    server = await hub_server()
    ana = await pusher_clients(server)
    ken = await pusher_clients(server)
    await ana.subscribe("presence-session-1", "ana@example.org", "Ana")
    await ken.subscribe("presence-session-1", "ken@example.org", "Ken")
    await ana.subscribe("news")
    client = sdk(server)

    batch = [
        {"channel": "news", "name": "one", "data": {"n": 1}},
        {"channel": "presence-session-1", "name": "two", "data": "2"},
    ]
    assert await asyncio.to_thread(client.trigger_batch, batch) == {}
    assert json.loads((await ana.expect("one"))["data"]) == {"n": 1}
    assert (await ken.expect("two"))["data"] == "2"

    channels = await asyncio.to_thread(client.channels_info)
    assert channels == {"channels": {"news": {}, "presence-session-1": {}}}
    presence = await asyncio.to_thread(client.channels_info, "presence-", ["user_count"])
    assert presence == {"channels": {"presence-session-1": {"user_count": 2}}}
    info = await asyncio.to_thread(
        client.channel_info, "presence-session-1", ["user_count", "subscription_count"]
    )
    assert info == {"occupied": True, "user_count": 2, "subscription_count": 2}
    assert await asyncio.to_thread(client.channel_info, "empty") == {"occupied": False}
    users = await asyncio.to_thread(client.users_info, "presence-session-1")
    assert sorted(u["id"] for u in users["users"]) == ["ana@example.org", "ken@example.org"]


async def test_sdk_with_a_wrong_secret_is_refused(hub_server: Any) -> None:
    server = await hub_server()
    with pytest.raises(pusher.errors.PusherBadAuth):
        await asyncio.to_thread(sdk(server, "wrong").trigger, "news", "x", "y")


async def test_api_checks_signature_timestamp_and_body(hub_server: Any) -> None:
    server = await hub_server()
    path = f"/apps/{APP_ID}/events"
    body = json.dumps({"name": "e", "channels": ["c"], "data": "d"}).encode()

    async def post(query: dict[str, str], raw: bytes = body) -> tuple[int, Any]:
        import aiohttp

        async with (
            aiohttp.ClientSession() as http,
            http.post(server.make_url(path), params=query, data=raw) as resp,
        ):
            return resp.status, await resp.json()

    good = sign_request(KEY, SECRET, "POST", path, None, body)
    assert (await post(good))[0] == 200
    tampered = dict(good, auth_signature="0" * 64)
    assert await post(tampered) == (401, {"error": "Invalid signature", "field": "auth_signature"})
    other_body = json.dumps({"name": "evil", "channels": ["c"], "data": "d"}).encode()
    status, error = await post(good, other_body)
    assert (status, error["field"]) == (401, "body_md5")
    stale = sign_request(KEY, SECRET, "POST", path, None, body, timestamp=int(time.time()) - 601)
    status, error = await post(stale)
    assert (status, error["field"]) == (401, "auth_timestamp")
    wrong_key = sign_request("other", SECRET, "POST", path, None, body)
    assert (await post(wrong_key))[0] == 401
    status, _ = await api_call(server, "POST", "/apps/999/events", {"name": "e"})
    assert status == 404


async def test_api_enforces_pusher_limits(hub_server: Any) -> None:
    server = await hub_server()
    events = f"/apps/{APP_ID}/events"
    too_big = {"name": "e", "channels": ["c"], "data": "x" * 10_241}
    assert (await api_call(server, "POST", events, too_big))[0] == 413
    many = {"name": "e", "channels": [f"c{n}" for n in range(101)], "data": "x"}
    assert (await api_call(server, "POST", events, many))[0] == 400
    bad_channel = {"name": "e", "channels": ["no spaces"], "data": "x"}
    assert (await api_call(server, "POST", events, bad_channel))[0] == 400
    batch = {"batch": [{"channel": "c", "name": "e", "data": "x"}] * 11}
    assert (await api_call(server, "POST", f"/apps/{APP_ID}/batch_events", batch))[0] == 400
    status, _ = await api_call(
        server, "GET", f"/apps/{APP_ID}/channels", params={"info": "user_count"}
    )
    assert status == 400
    status, _ = await api_call(server, "GET", f"/apps/{APP_ID}/channels/public/users")
    assert status == 400
    status, body = await api_call(server, "POST", events, ["not", "an", "object"])
    assert status == 400 and body["error"]


async def test_webhooks_are_signed_and_retried(
    make_settings: Any, hub_server: Any, pusher_clients: Any
) -> None:
    received: list[dict[str, Any]] = []
    attempts = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return web.Response(status=503)  # the first delivery fails and must be retried
        body = await request.read()
        validator = pusher.Pusher(app_id=APP_ID, key=KEY, secret=SECRET)
        verified = validator.validate_webhook(
            request.headers["X-Pusher-Key"], request.headers["X-Pusher-Signature"], body
        )
        assert verified is not None, "signature did not verify"
        received.extend(verified["events"])
        return web.Response(status=200)

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", hook)
    receiver = TestServer(receiver_app, host="127.0.0.1")
    await receiver.start_server()
    try:
        server = await hub_server(
            pusher={"webhook_urls": [str(receiver.make_url("/hook"))]},
            limits=HubLimits(webhooks=WebhookPolicy(backoff_s=0.05, batch_window_s=0.2)),
        )
        ana = await pusher_clients(server)
        ken = await pusher_clients(server)
        await ana.subscribe("presence-room", "ana")
        await ken.subscribe("presence-room", "ken")
        await ken.send("client-hi", {"x": 1}, channel="presence-room")
        await ana.expect("client-hi")
        await ken.close()
        await ana.close()

        def names() -> list[str]:
            return [e["name"] for e in received]

        await eventually(lambda: "channel_vacated" in names(), "channel_vacated webhook")
        assert names().count("channel_occupied") == 1
        assert names().count("member_added") == 2
        assert names().count("member_removed") == 2
        client_event = next(e for e in received if e["name"] == "client_event")
        assert client_event["user_id"] == "ken"
        assert client_event["event"] == "client-hi"
        assert json.loads(client_event["data"]) == {"x": 1}
        assert attempts >= 2
    finally:
        await receiver.close()
