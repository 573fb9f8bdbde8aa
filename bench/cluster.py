"""What room forwarding costs in a cluster, and how long a room takes to move.

Starts redis-server, two ``panamia serve`` nodes and HAProxy (bench/cluster_nodes.py), books a
session and lets node 1 own its room, then measures, alternating direct and forwarded tries so
both see the same machine load:

- a notes message: a Yjs update sent by one client until another client, connected straight to
  the owner, receives it; the sender connected to the owner (baseline) or to the other node
  (forwarded through the proxied websocket);
- a relay offer: POST offer until the answer, to the owner (baseline) or the other node;
- failover: SIGKILL the owner, then offer through the survivor again and again until a call
  connects (ICE up), against the same on a healthy cluster (baseline: the first call).

    python -m bench.cluster [--tries 200]

Prints p50/p95 and ratios to the baselines; never fails on time. Figures from a loaded machine
are provisional.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from pycrdt import Doc, Text, create_update_message
from redis.asyncio import Redis

from bench.cluster_nodes import AUTH_SECRET, LEASE_PREFIX, Cluster, start_cluster
from bench.join import percentile
from bench.media import ColourVideoTrack
from store.models import Session
from store.sqlite import SqliteStore
from web.auth import COOKIE_NAME, issue_token
from web.rooms.lease import Owner

MENTOR = "bench.mentor@example.org"
MENTEE = "bench.mentee@example.org"
YJS_UPDATE_PREFIX = b"\x00\x02"
"""y-websocket: a sync message (0) of kind update (2)."""


def cookie(email: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={issue_token(AUTH_SECRET, email, 3600)}"}


def progress(label: str, done: int, total: int) -> None:
    if done % 20 == 0 or done == total:
        print(f"\r  {label}: {done}/{total}", end="" if done < total else "\n", flush=True)


def summary(name: str, values: list[float], baseline: list[float] | None = None) -> str:
    p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
    line = f"  {name:<28} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms"
    if baseline:
        b50, b95 = percentile(baseline, 0.5) * 1000, percentile(baseline, 0.95) * 1000
        line += f"   extra p50 {p50 - b50:+6.2f} ms, p95 {p95 - b95:+6.2f} ms"
        line += f"   ratio p50 {p50 / b50:.2f}"
    return line


async def book(cluster: Cluster) -> str:
    """A session whose room is open now, in the nodes' shared store."""
    store = SqliteStore(str(cluster.sqlite_path))
    await store.open()
    try:
        await store.ensure_profile(MENTOR, "Bench Mentor")
        await store.ensure_profile(MENTEE, "Bench Mentee")
        session_id = uuid.uuid4().hex
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=started,
                duration=60,
                topic="Cluster bench",
            )
        )
    finally:
        await store.close()
    return session_id


async def owner_of(cluster: Cluster, session_id: str) -> str | None:
    client = Redis.from_url(cluster.redis.url)
    try:
        value = await client.get(LEASE_PREFIX + session_id)
    finally:
        await client.aclose()
    return None if value is None else Owner.parse(value).url


# -- notes --------------------------------------------------------------------------------


async def next_update(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Until the next Yjs update arrives (awareness and sync replies are skipped)."""
    while True:
        message = await ws.receive(timeout=10)
        if message.type is not aiohttp.WSMsgType.BINARY:
            raise RuntimeError(f"notes socket closed: {message.type} {ws.close_code}")
        if bytes(message.data).startswith(YJS_UPDATE_PREFIX):
            return


async def notes_latency(
    http: aiohttp.ClientSession, owner_url: str, other_url: str, session_id: str, tries: int
) -> tuple[list[float], list[float]]:
    path = f"/ws/notes/{session_id}"
    doc: Doc[Text] = Doc()
    text = doc.get("notes", type=Text)
    direct_sender = await http.ws_connect(owner_url + path, headers=cookie(MENTOR))
    forwarded_sender = await http.ws_connect(other_url + path, headers=cookie(MENTOR))
    receiver = await http.ws_connect(owner_url + path, headers=cookie(MENTEE))
    await asyncio.sleep(1.0)  # let the opening sync and awareness messages pass

    async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await ws.receive()

    drains = [asyncio.create_task(drain(ws)) for ws in (direct_sender, forwarded_sender)]
    direct: list[float] = []
    forwarded: list[float] = []
    try:
        for i in range(tries):
            for sender, results in ((direct_sender, direct), (forwarded_sender, forwarded)):
                before = doc.get_state()
                text.insert(len(str(text)), "x" if i % 50 else "\n")
                message = create_update_message(doc.get_update(before))
                started = time.perf_counter()
                await sender.send_bytes(message)
                await next_update(receiver)
                results.append(time.perf_counter() - started)
            progress("notes messages", i + 1, tries)
    finally:
        for task in drains:
            task.cancel()
        for ws in (direct_sender, forwarded_sender, receiver):
            await ws.close()
    return direct, forwarded


# -- relay --------------------------------------------------------------------------------


def peer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ColourVideoTrack((200, 40, 40)))
    return pc


async def offer_sdp() -> str:
    pc = peer()
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def relay_latency(
    http: aiohttp.ClientSession, owner_url: str, other_url: str, session_id: str, tries: int
) -> tuple[list[float], list[float]]:
    path = f"/api/relay/sessions/{session_id}/offer"
    sdp = await offer_sdp()
    direct: list[float] = []
    forwarded: list[float] = []
    for i in range(tries):
        for url, results in ((owner_url, direct), (other_url, forwarded)):
            started = time.perf_counter()
            async with http.post(url + path, json={"sdp": sdp}, headers=cookie(MENTOR)) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"offer answered {r.status}: {await r.text()}")
            results.append(time.perf_counter() - started)
        progress("relay offers", i + 1, tries)
    async with http.post(
        owner_url + f"/api/relay/sessions/{session_id}/leave", headers=cookie(MENTOR)
    ) as r:
        await r.read()
    return direct, forwarded


async def connect_call(http: aiohttp.ClientSession, base_url: str, session_id: str) -> float:
    """Offer until the room's owner answers, then until ICE is up; returns when it is."""
    pc = peer()
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if pc.connectionState == "connected":
            connected.set()

    await pc.setLocalDescription(await pc.createOffer())
    path = f"/api/relay/sessions/{session_id}/offer"
    try:
        while True:
            try:
                async with http.post(
                    base_url + path, json={"sdp": pc.localDescription.sdp}, headers=cookie(MENTEE)
                ) as r:
                    if r.status == 200:
                        answer = await r.json()
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await asyncio.wait_for(connected.wait(), 30)
        return time.perf_counter()
    finally:
        await pc.close()


# -- run ----------------------------------------------------------------------------------


async def measure(cluster: Cluster, tries: int) -> None:
    node1, node2 = cluster.nodes
    session_id = await book(cluster)
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        await connect_call(http, node1.url, session_id)  # node 1 claims the room
        first_call = time.perf_counter() - started
        owner = await owner_of(cluster, session_id)
        assert owner == node1.url, owner
        print(f"room owner: node1 ({node1.url}); forwarded requests go in through node2")

        notes_direct, notes_forwarded = await notes_latency(
            http, node1.url, node2.url, session_id, tries
        )
        relay_direct, relay_forwarded = await relay_latency(
            http, node1.url, node2.url, session_id, tries
        )
        print(f"\nforwarding cost over {tries} tries each (direct = sent to the owner):")
        print(summary("notes message, direct", notes_direct))
        print(summary("notes message, forwarded", notes_forwarded, notes_direct))
        print(summary("relay offer, direct", relay_direct))
        print(summary("relay offer, forwarded", relay_forwarded, relay_direct))

        print("\nfailover: SIGKILL the owner, offer through the proxy until a call connects")
        await connect_call(http, cluster.proxy.url, session_id)  # a live call before the kill
        killed = time.perf_counter()
        node1.stop(signal.SIGKILL)
        recovered = await connect_call(http, cluster.proxy.url, session_id) - killed
        owner = await owner_of(cluster, session_id)
        print(f"  first call on a healthy cluster (baseline)  {first_call:6.2f} s")
        print(f"  owner's death to a connected call           {recovered:6.2f} s")
        print(f"  ratio to the baseline                       {recovered / first_call:6.1f}x")
        print(f"  room now on: {'node2' if owner == node2.url else owner}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="panamia-cluster-bench-") as folder:
        print("starting redis-server, two nodes and HAProxy...", flush=True)
        try:
            cluster = start_cluster(Path(folder))
        except LookupError as exc:
            sys.exit(str(exc))
        try:
            asyncio.run(measure(cluster, args.tries))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
