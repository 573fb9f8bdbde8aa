"""A node that loses a room's lease gives the room up at once: its notes sockets close with a
code the browser reconnects on (1012), the text is saved, and the notes state is in Redis for
the next owner. One in-process cluster node with a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web
from pycrdt import Doc, Text, create_update_message
from redis.asyncio import Redis

from store.models import Session
from tests.conftest import SettingsFactory
from tests.integration.test_redis_outage import RedisProcess
from tests.support.live_server import live_server
from tests.support.procs import find_tool
from tests.support.sessions import open_room_start
from web import keys
from web.auth import COOKIE_NAME, session_token_for
from web.notes.document import notes_text
from web.rooms.lease import Owner

MENTOR = "ana.mentor@example.org"
MENTEE = "ben.mentee@example.org"


def _has_text(app: web.Application, session_id: str, text: str) -> bool:
    room = app[keys.NOTES].room(session_id)
    return room is not None and str(notes_text(room.doc)) == text


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    binary = find_tool("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it: apt-get install redis-server)")
    server = RedisProcess(binary)
    server.start()
    assert server.proc is not None and server.proc.poll() is None, "redis-server did not start"
    yield server
    if server.proc is not None:
        server.kill()


async def test_a_lost_lease_closes_the_room_here_and_keeps_its_notes(
    make_settings: SettingsFactory, redis_proc: RedisProcess
) -> None:
    redis = Redis.from_url(redis_proc.url, socket_timeout=5, socket_connect_timeout=5)
    await redis.set("panamia:rooms:epoch", "1")  # a Redis the cluster knew: no grace period
    async with live_server(
        make_settings,
        bus={"redis_url": redis_proc.url},
        cluster={"internal_url": "http://127.0.0.1:1", "lease_ttl_s": 2.0},
    ) as (url, app):
        store = app[keys.STORE]
        for email in (MENTOR, MENTEE):
            await store.ensure_profile(email, email.split("@")[0])
        session_id = uuid.uuid4().hex
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=open_room_start(),
                duration=60,
                topic="Handover",
            )
        )
        cookie = {"Cookie": f"{COOKIE_NAME}={session_token_for(app, MENTOR)}"}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{url}/ws/notes/{session_id}", headers=cookie) as ws,
        ):
            lease = await redis.get(f"panamia:rooms:lease:{session_id}")
            assert lease is not None
            assert Owner.parse(lease).url == "http://127.0.0.1:1"
            doc: Doc[Text] = Doc()
            doc.get("notes", type=Text).insert(0, "typed before the handover")
            await ws.send_bytes(create_update_message(doc.get_update()))
            # The room's document has the text before the lease moves (a loaded machine may
            # take longer than any fixed pause to read the frame).
            deadline = time.monotonic() + 10
            while not _has_text(app, session_id, "typed before the handover"):
                assert time.monotonic() < deadline, "the edit never reached the room"
                await asyncio.sleep(0.02)

            # Another node now holds the lease (as after this node was cut off for too long).
            await redis.set(f"panamia:rooms:lease:{session_id}", "99 http://other-node:8080")
            deadline = time.monotonic() + 10
            while not ws.closed:
                await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
                assert time.monotonic() < deadline, "the socket stayed open on the old owner"
            assert ws.close_code == 1012
        stored = await store.get_session(session_id)
        assert stored is not None and stored.notes == "typed before the handover"
        state = await redis.get(f"panamia:notes-state:{session_id}")
        assert isinstance(state, bytes)
        restored: Doc[Text] = Doc()
        restored.apply_update(state)
        assert str(restored.get("notes", type=Text)) == "typed before the handover"
    await redis.aclose()
