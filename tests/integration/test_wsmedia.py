"""The media socket (/ws/media/{id}): only the two participants, chunks forwarded unchanged,
control messages forwarded, bad frames closed with their own code, and a slow receiver
skipping to the next key frame while audio keeps flowing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from config.settings import Settings
from panamia.app import create_app
from store.models import Session
from tests.support.sessions import open_room_start
from web import keys
from web.auth import COOKIE_NAME, session_token_for
from web.wsmedia import protocol
from web.wsmedia.peer import MediaPeer
from web.wsmedia.protocol import Kind, encode_chunk

MENTOR = "mentor-media@example.org"
MENTEE = "mentee-media@example.org"
STRANGER = "stranger-media@example.org"
WAIT_S = 10.0


class MediaServer:
    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.server = TestServer(self.app)
        self.http = aiohttp.ClientSession()

    async def book(self) -> str:
        store = self.app[keys.STORE]
        for email in (MENTOR, MENTEE, STRANGER):
            await store.ensure_profile(email, email.split("@")[0].title())
        session_id = uuid.uuid4().hex
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=open_room_start(),
                duration=30,
                topic="Media over websockets",
            )
        )
        return session_id

    async def socket(self, session_id: str, email: str | None) -> aiohttp.ClientWebSocketResponse:
        headers = {}
        if email is not None:
            headers["Cookie"] = f"{COOKIE_NAME}={session_token_for(self.app, email)}"
        return await self.http.ws_connect(
            self.server.make_url(f"/ws/media/{session_id}"), headers=headers
        )


@pytest.fixture
async def media(settings: Settings) -> AsyncIterator[MediaServer]:
    server = MediaServer(settings)
    await server.server.start_server()
    try:
        yield server
    finally:
        await server.http.close()
        await server.server.close()


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    return await asyncio.wait_for(ws.receive(), WAIT_S)


async def next_text(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = await next_message(ws)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        data = json.loads(message.data)
        if data["type"] == kind:
            return data  # type: ignore[no-any-return]


async def next_binary(ws: aiohttp.ClientWebSocketResponse) -> bytes:
    while True:
        message = await next_message(ws)
        if message.type is aiohttp.WSMsgType.BINARY:
            return bytes(message.data)
        assert message.type is aiohttp.WSMsgType.TEXT, message


async def close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while True:
        message = await next_message(ws)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code


async def test_chunks_and_controls_pass_between_the_two_participants(media: MediaServer) -> None:
    session_id = await media.book()
    mentor = await media.socket(session_id, MENTOR)
    mentee = await media.socket(session_id, MENTEE)
    # the first side hears of the newcomer and is asked for a key frame
    assert (await next_text(mentor, "peer"))["present"] is True
    await next_text(mentor, "keyframe")
    config = {
        "type": "config",
        "video": {"codec": "vp8", "width": 640, "height": 480},
        "audio": {"codec": "opus", "sampleRate": 44100, "numberOfChannels": 1},
    }
    await mentor.send_str(json.dumps(config))
    assert await next_text(mentee, "config") == config
    key = encode_chunk(Kind.VIDEO_KEY, 1, 123_456, b"\x10" * 5000)
    audio = encode_chunk(Kind.AUDIO, 2, 123_500, b"\x20" * 80)
    await mentor.send_bytes(key)
    await mentor.send_bytes(audio)
    received = {await next_binary(mentee), await next_binary(mentee)}
    assert received == {key, audio}
    await mentee.send_str(json.dumps({"type": "keyframe"}))
    await next_text(mentor, "keyframe")
    metrics = await (await media.http.get(media.server.make_url("/metrics"))).text()
    assert "panamia_wsmedia_sockets 2.0" in metrics
    assert "panamia_wsmedia_frames_forwarded_total" in metrics
    await mentee.close()
    assert (await next_text(mentor, "peer"))["present"] is False
    await mentor.close()


@pytest.mark.parametrize(
    ("who", "code"),
    [(None, protocol.CLOSE_UNAUTHORIZED), (STRANGER, protocol.CLOSE_FORBIDDEN)],
    ids=["signed-out", "stranger"],
)
async def test_only_participants_get_in(media: MediaServer, who: str | None, code: int) -> None:
    session_id = await media.book()
    ws = await media.socket(session_id, who)
    assert await close_code(ws) == code


async def test_unknown_session_is_4404(media: MediaServer) -> None:
    ws = await media.socket("no-such-session", MENTOR)
    assert await close_code(ws) == protocol.CLOSE_NOT_FOUND


async def test_plain_http_is_400(media: MediaServer) -> None:
    response = await media.http.get(media.server.make_url("/ws/media/abc"))
    assert response.status == 400
    assert "error" in await response.json()


BAD_FRAMES: list[tuple[str, bytes | str, int]] = [
    ("short", b"\x01\x00\x00", protocol.CLOSE_MALFORMED),
    ("unknown-kind", encode_chunk(Kind.AUDIO, 1, 1, b"x").replace(b"\x03", b"\x09", 1), 4400),
    ("big-audio", encode_chunk(Kind.AUDIO, 1, 1, b"x" * 5000), protocol.CLOSE_TOO_LARGE),
    ("not-json", "{nope", protocol.CLOSE_MALFORMED),
    ("unknown-control", json.dumps({"type": "evil"}), protocol.CLOSE_MALFORMED),
    (
        "bad-codec",
        json.dumps({"type": "config", "video": {"codec": "h265", "width": 1, "height": 1}}),
        protocol.CLOSE_MALFORMED,
    ),
    (
        "odd-sample-rate",
        json.dumps(
            {"type": "config", "audio": {"codec": "opus", "sampleRate": 1, "numberOfChannels": 1}}
        ),
        protocol.CLOSE_MALFORMED,
    ),
    ("huge-frame", b"\x01" * (protocol.MAX_FRAME_BYTES + 10), 1009),
]


@pytest.mark.parametrize(("name", "frame", "code"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
async def test_a_bad_frame_closes_that_socket_only(
    media: MediaServer, name: str, frame: bytes | str, code: int
) -> None:
    session_id = await media.book()
    good = await media.socket(session_id, MENTOR)
    bad = await media.socket(session_id, MENTEE)
    if isinstance(frame, str):
        await bad.send_str(frame)
    else:
        await bad.send_bytes(frame)
    assert await close_code(bad) == code
    assert (await next_text(good, "peer"))["present"] is True
    assert (await next_text(good, "peer"))["present"] is False
    assert not good.closed
    healthz = await media.http.get(media.server.make_url("/healthz"))
    assert healthz.status == 200
    await good.close()


async def test_a_flood_is_closed_with_4429(media: MediaServer) -> None:
    session_id = await media.book()
    ws = await media.socket(session_id, MENTOR)
    chunk = encode_chunk(Kind.AUDIO, 1, 1, b"x" * 100)
    for _ in range(400):
        if ws.closed:
            break
        await ws.send_bytes(chunk)
    assert await close_code(ws) == protocol.CLOSE_TOO_FAST


async def test_a_newer_socket_replaces_the_older(media: MediaServer) -> None:
    session_id = await media.book()
    first = await media.socket(session_id, MENTOR)
    second = await media.socket(session_id, MENTOR)
    assert await close_code(first) == protocol.CLOSE_REPLACED
    assert not second.closed
    await second.close()


class _StuckSocket:
    """A receiver that never drains, to see what the queue does."""

    closed = False

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.Event().wait()

    async def send_str(self, data: str) -> None:
        await asyncio.Event().wait()


async def test_a_slow_receiver_skips_to_the_next_key_frame_and_keeps_audio() -> None:
    congested: list[MediaPeer] = []
    peer = MediaPeer(_StuckSocket(), MENTEE, on_congested=congested.append)  # type: ignore[arg-type]
    try:
        peer.deliver_chunk(Kind.VIDEO_DELTA, b"d")
        assert peer.stats.dropped_video == 1  # nothing decodes before a key frame
        peer.deliver_chunk(Kind.VIDEO_KEY, b"k")
        for _ in range(60):
            peer.deliver_chunk(Kind.VIDEO_DELTA, b"d")
            peer.deliver_chunk(Kind.AUDIO, b"a")
        assert congested == [peer]
        assert peer.wants_keyframe()
        assert peer.stats.dropped_video > 10
        assert len(peer._audio) == 25  # audio keeps its own bounded queue
        peer.deliver_chunk(Kind.VIDEO_KEY, b"k")
        assert not peer.wants_keyframe()
    finally:
        await peer.close()


async def test_a_congested_receiver_makes_the_server_ask_the_sender_to_slow_down(
    media: MediaServer,
) -> None:
    session_id = await media.book()
    sender = await media.socket(session_id, MENTOR)
    receiver = await media.socket(session_id, MENTEE)
    await next_text(sender, "keyframe")  # asked for one when the receiver came
    rooms = media.app[keys.WSMEDIA]
    peer = rooms.other(session_id, MENTOR)
    assert peer is not None and peer.email == MENTEE
    # The receiver's socket stops draining: fill its queue past the bound.
    peer.deliver_chunk(Kind.VIDEO_KEY, encode_chunk(Kind.VIDEO_KEY, 0, 1, b"k"))
    stalled = peer._video.copy()
    for _ in range(40):
        peer._video.extend(stalled)
    peer._video_bytes = 10**9
    rooms.forward_chunk(session_id, rooms.other(session_id, MENTEE), Kind.VIDEO_DELTA, b"x" * 20)  # type: ignore[arg-type]
    assert (await next_text(sender, "slow-down"))["type"] == "slow-down"
    await next_text(sender, "keyframe")
    assert peer.wants_keyframe()
    await receiver.close()
    await sender.close()
