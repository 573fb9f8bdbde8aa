"""The hub over real websockets: handshake, subscriptions, presence, client events, limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from signaling.hub import HubLimits
from tests.integration.conftest import (
    PusherWS,
    eventually,
    frame_data,
    hub_of,
    sign_for,
)


async def test_handshake_sends_socket_id_and_activity_timeout(hub_server: Any) -> None:
    server = await hub_server(pusher={"activity_timeout_s": 42})
    client = await PusherWS.open(server)
    try:
        frame = await client.recv()
        assert frame["event"] == "pusher:connection_established"
        data = frame_data(frame)
        assert data["activity_timeout"] == 42
        left, _dot, right = data["socket_id"].partition(".")
        assert left.isdigit() and right.isdigit()
    finally:
        await client.close()


async def test_unknown_app_key_is_refused_with_4001(hub_server: Any) -> None:
    server = await hub_server()
    client = await PusherWS.open(server, key="nope")
    try:
        frame = await client.recv()
        assert frame["event"] == "pusher:error"
        assert frame_data(frame)["code"] == 4001
        assert await client.closed() == 4001
    finally:
        await client.close()


async def test_protocol_version_is_checked(hub_server: Any) -> None:
    server = await hub_server()
    for protocol, code in (("3", 4007), (None, 4008), ("x", 4006)):
        client = await PusherWS.open(server, protocol=protocol)
        try:
            assert await client.closed() == code
        finally:
            await client.close()


async def test_ping_gets_pong(hub_server: Any, pusher_clients: Any) -> None:
    client = await pusher_clients(await hub_server())
    await client.send("pusher:ping")
    pong = await client.expect("pusher:pong")
    assert frame_data(pong) == {}


async def test_malformed_frames_get_an_error_and_the_connection_lives_on(
    hub_server: Any, pusher_clients: Any
) -> None:
    client = await pusher_clients(await hub_server())
    for bad in ("not json", "[1,2]", '{"event": 5}', '{"event":"pusher:subscribe","data":7}'):
        await client.ws.send_str(bad)
        error = await client.expect("pusher:error")
        assert frame_data(error)["message"]
    await client.ws.send_bytes(b"\x00\x01")
    await client.expect("pusher:error")
    await client.send("pusher:subscribe", {"channel": "bad channel!"})
    await client.expect("pusher:error")
    await client.send("pusher:subscribe", {"channel": "x" * 165})
    await client.expect("pusher:error")
    answer = await client.subscribe("still-fine")
    assert answer["event"] == "pusher_internal:subscription_succeeded"


async def test_public_channel_receives_server_events(hub_server: Any, pusher_clients: Any) -> None:
    server = await hub_server()
    client = await pusher_clients(server)
    answer = await client.subscribe("news")
    assert answer["event"] == "pusher_internal:subscription_succeeded"
    assert frame_data(answer) == {}
    await hub_of(server).trigger(["news"], "headline", '{"n":1}')
    frame = await client.expect("headline")
    assert frame == {"event": "headline", "channel": "news", "data": '{"n":1}'}
    await client.send("pusher:unsubscribe", {"channel": "news"})
    await client.send("pusher:ping")
    await client.expect("pusher:pong")
    await hub_of(server).trigger(["news"], "headline", '{"n":2}')
    await client.send("pusher:ping")
    await client.expect("pusher:pong")
    assert [f for f in client.frames if f["event"] == "headline"] == [frame]


async def test_private_channel_needs_a_valid_signature(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server()
    client = await pusher_clients(server)
    other = await pusher_clients(server)
    bad = await client.subscribe("private-room", secret="wrong-secret")
    assert bad["event"] == "pusher:subscription_error"
    assert frame_data(bad)["status"] == 401
    assert frame_data(bad)["type"] == "AuthError"
    await client.send("pusher:subscribe", {"channel": "private-room"})
    await client.expect("pusher:subscription_error", "private-room")
    stolen = sign_for(other.socket_id, "private-room")
    await client.send("pusher:subscribe", {"channel": "private-room", "auth": stolen})
    await client.expect("pusher:subscription_error", "private-room")
    good = await client.subscribe("private-room")
    assert good["event"] == "pusher_internal:subscription_succeeded"


async def test_presence_members_one_per_user(hub_server: Any, pusher_clients: Any) -> None:
    server = await hub_server()
    ana = await pusher_clients(server)
    ana_tab2 = await pusher_clients(server)
    ken = await pusher_clients(server)
    channel = "presence-session-abc"

    first = await ana.subscribe(channel, "ana@example.org", "Ana")
    assert frame_data(first)["presence"] == {
        "ids": ["ana@example.org"],
        "hash": {"ana@example.org": {"name": "Ana"}},
        "count": 1,
    }
    await ana_tab2.subscribe(channel, "ana@example.org", "Ana")
    joined = await ken.subscribe(channel, "ken@example.org", "Ken")
    presence = frame_data(joined)["presence"]
    assert presence["count"] == 2
    assert sorted(presence["ids"]) == ["ana@example.org", "ken@example.org"]

    added = await ana.expect("pusher_internal:member_added", channel)
    assert frame_data(added) == {"user_id": "ken@example.org", "user_info": {"name": "Ken"}}
    await ana_tab2.expect("pusher_internal:member_added", channel)

    # Ana's second tab leaving does not remove Ana; her last one does.
    await ana_tab2.close()
    await ana.close()
    removed = await ken.expect("pusher_internal:member_removed", channel)
    assert frame_data(removed) == {"user_id": "ana@example.org"}
    added_events = [f for f in ken.frames if f["event"] == "pusher_internal:member_added"]
    assert added_events == []
    assert [f for f in ken.frames if f["event"] == "pusher_internal:member_removed"] == [removed]


async def test_presence_needs_channel_data_matching_the_signature(
    hub_server: Any, pusher_clients: Any
) -> None:
    client = await pusher_clients(await hub_server())
    channel = "presence-x"
    signed = json.dumps({"user_id": "a", "user_info": {}})
    forged = json.dumps({"user_id": "admin", "user_info": {}})
    auth = sign_for(client.socket_id, channel, signed)
    await client.send(
        "pusher:subscribe", {"channel": channel, "auth": auth, "channel_data": forged}
    )
    error = await client.expect("pusher:subscription_error", channel)
    assert frame_data(error)["status"] == 401
    no_user = json.dumps({"user_info": {}})
    auth = sign_for(client.socket_id, channel, no_user)
    await client.send(
        "pusher:subscribe", {"channel": channel, "auth": auth, "channel_data": no_user}
    )
    error = await client.expect("pusher:subscription_error", channel)
    assert frame_data(error)["status"] == 400


async def test_presence_channel_holds_at_most_the_member_limit(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server(limits=HubLimits(max_presence_members=2))
    clients = [await pusher_clients(server) for _ in range(3)]
    for n, client in enumerate(clients[:2]):
        ok = await client.subscribe("presence-full", f"user{n}")
        assert ok["event"] == "pusher_internal:subscription_succeeded"
    refused = await clients[2].subscribe("presence-full", "user2")
    assert refused["event"] == "pusher:subscription_error"
    assert frame_data(refused)["status"] == 403
    # Another connection of a user already in is not a new member.
    again = await clients[2].subscribe("presence-full", "user0")
    assert again["event"] == "pusher_internal:subscription_succeeded"
    assert frame_data(again)["presence"]["count"] == 2


async def test_client_events_reach_others_but_not_the_sender(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server()
    alice = await pusher_clients(server)
    bob = await pusher_clients(server)
    for c in (alice, bob):
        await c.subscribe("private-call")
    await alice.send("client-offer", {"sdp": "v=0"}, channel="private-call")
    got = await bob.expect("client-offer")
    assert got == {"event": "client-offer", "channel": "private-call", "data": {"sdp": "v=0"}}
    await alice.send("pusher:ping")
    await alice.expect("pusher:pong")
    assert not [f for f in alice.frames if f["event"] == "client-offer"]


async def test_client_events_on_presence_carry_the_user_id(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server()
    alice = await pusher_clients(server)
    bob = await pusher_clients(server)
    await alice.subscribe("presence-room", "alice")
    await bob.subscribe("presence-room", "bob")
    await bob.send("client-wave", {"x": 1}, channel="presence-room")
    got = await alice.expect("client-wave")
    assert got["user_id"] == "bob"


async def test_client_events_are_refused_where_not_allowed(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server()
    client = await pusher_clients(server)
    await client.subscribe("public-room")
    await client.send("client-x", {}, channel="public-room")
    await client.expect("pusher:error")
    await client.send("client-x", {}, channel="private-not-subscribed")
    await client.expect("pusher:error")
    await client.subscribe("private-room")
    await client.send("client-x", {"blob": "y" * 11_000}, channel="private-room")
    too_big = await client.expect("pusher:error")
    assert "10240" in frame_data(too_big)["message"]
    assert hub_of(server).stats()["client_events_rejected"] == 3


async def test_client_event_rate_limit_is_an_error_not_a_disconnect(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server(limits=HubLimits(client_events_per_s=0.001, client_event_burst=10))
    sender = await pusher_clients(server)
    receiver = await pusher_clients(server)
    for c in (sender, receiver):
        await c.subscribe("private-flood")
    for n in range(12):
        await sender.send("client-n", {"n": n}, channel="private-flood")
    errors: list[dict[str, Any]] = []
    while len(errors) < 2:
        frame = await sender.expect("pusher:error")
        errors.append(frame_data(frame))
    assert [e["code"] for e in errors] == [4301, 4301]
    for n in range(10):
        frame = await receiver.expect("client-n")
        assert frame["data"] == {"n": n}
    await sender.send("pusher:ping")
    await sender.expect("pusher:pong")


async def test_silent_client_is_pinged_then_closed_with_4201(hub_server: Any) -> None:
    server = await hub_server(
        pusher={"activity_timeout_s": 1},
        limits=HubLimits(pong_timeout_s=0.5, sweep_interval_s=0.1),
    )
    client = await PusherWS.open(server)
    try:
        await client.connected()
        ping = await client.expect("pusher:ping")
        assert frame_data(ping) == {}
        assert await client.closed() == 4201
    finally:
        await client.close()


async def test_answering_pings_keeps_the_connection(hub_server: Any) -> None:
    # The pong timeout leaves a loaded machine's event loop time to answer (client and hub
    # share it). Pings come about once a second; the third is due after 1 s + 1.5 s, by
    # when a hub that ignored the pongs would have closed the connection.
    server = await hub_server(
        pusher={"activity_timeout_s": 1},
        limits=HubLimits(pong_timeout_s=1.5, sweep_interval_s=0.1),
    )
    client = await PusherWS.open(server)
    try:
        await client.connected()
        for _ in range(3):
            await client.expect("pusher:ping")
            await client.send("pusher:pong")
        assert not client.ws.closed
    finally:
        await client.close()


async def test_slow_client_is_disconnected_without_stalling_the_channel(
    hub_server: Any, pusher_clients: Any
) -> None:
    server = await hub_server(pusher={"max_outbox": 8})
    hub = hub_of(server)
    fast = await pusher_clients(server)
    await fast.subscribe("busy")
    slow = await PusherWS.open(server)
    await slow.connected()
    await slow.subscribe("busy")
    slow_conn = next(c for c in hub._conns.values() if c.socket_id == slow.socket_id)
    # The slow client's writer is stuck: simulate a socket that never drains by parking it.
    slow_conn.wakeup.clear()
    slow_conn.outbox.extend(["x"] * 8)  # its outbox is already full
    await hub.trigger(["busy"], "tick", "1")
    assert slow_conn.closed and slow_conn.close_code == 4101
    tick = await fast.expect("tick")
    assert tick["data"] == "1"
    await eventually(lambda: slow.socket_id not in hub._conns, "slow client dropped")
    await slow.close()


async def test_slow_reader_over_a_real_socket_is_cut_off(hub_server: Any) -> None:
    """A client that stops reading fills its outbox and is disconnected; the others go on."""
    server = await hub_server(pusher={"max_outbox": 16})
    hub = hub_of(server)
    fast = await PusherWS.open(server)
    await fast.connected()
    await fast.subscribe("firehose")
    stuck = await PusherWS.open(server)
    await stuck.connected()
    await stuck.subscribe("firehose")
    stuck_id = stuck.socket_id
    # Stop reading on the stuck client: pause its transport so the kernel buffers fill up.
    connection = stuck.ws._response.connection
    assert connection is not None
    transport = connection.transport
    assert transport is not None
    transport.pause_reading()
    payload = "z" * 8000
    sent = 0
    while stuck_id in hub._conns and sent < 5_000:
        await hub.trigger(["firehose"], "bulk", payload)
        sent += 1
        frame = await fast.expect("bulk")
        assert frame["data"] == payload
    assert stuck_id not in hub._conns
    transport.resume_reading()
    assert await stuck.closed() in (4101, 1006)
    await asyncio.gather(stuck.close(), fast.close())
