"""The recording service in the whole app: both pages are told every step over the hub (a
real Pusher-protocol websocket), a full disk stops the recording and tells them, the part stays
playable and listed as failed; the retention purge; the server-wide switch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bench.media import ColourVideoTrack, ToneAudioTrack, loopback_host_addresses
from panamia.app import create_app
from relay.recording.writer import describe
from store.models import Recording, RecordingStatus, Session, utcnow
from tests.conftest import SettingsFactory
from tests.integration.conftest import PusherWS, hub_settings
from tests.integration.test_relay_media import BLUE, RED, join, make_peer
from tests.integration.test_relay_recording import tiny_disk
from tests.support.apiclient import user
from tests.support.sessions import open_room_start
from web import keys

MENTOR = "ana.mentor@example.org"
MENTEE = "ben.mentee@example.org"


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tiny_disk(tmp_path / "disk", "96k") as folder:
        yield folder


async def start(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory, **recording: Any
) -> TestServer:
    settings = hub_settings(make_settings, recording=recording)
    return await aiohttp_server(create_app(settings))


async def open_session(server: TestServer) -> str:
    session_id = uuid.uuid4().hex
    store = server.app[keys.STORE]
    await store.create_session(Session(session_id, MENTOR, MENTEE, open_room_start(), 30, "Rec"))
    return session_id


async def states(ws: PusherWS, until: str) -> list[dict[str, Any]]:
    """recording-state events on the socket up to (and with) the state ``until``."""
    seen: list[dict[str, Any]] = []
    while True:
        frame = await ws.expect("recording-state")
        data = frame["data"] if isinstance(frame["data"], dict) else json.loads(frame["data"])
        seen.append(data)
        if data["state"] == until:
            return seen


async def test_a_full_disk_stops_the_recording_and_both_are_told(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    make_settings: SettingsFactory,
    disk: Path,
) -> None:
    server = await start(aiohttp_server, make_settings, folder=str(disk))
    session_id = await open_session(server)
    channel = f"private-session-{session_id}"
    sockets = []
    for _ in range(2):
        ws = await (await PusherWS.open(server)).connected()
        assert (await ws.subscribe(channel))["event"] == "pusher_internal:subscription_succeeded"
        sockets.append(ws)
    relay = server.app[keys.RELAY]
    peers = [
        make_peer(ColourVideoTrack(RED), ToneAudioTrack(440)),
        make_peer(ColourVideoTrack(BLUE), ToneAudioTrack(660)),
    ]
    await join(relay, session_id, MENTOR, peers[0])
    await join(relay, session_id, MENTEE, peers[1])
    mentor = await user(aiohttp_client, server, MENTOR)
    mentee = await user(aiohttp_client, server, MENTEE)
    base = f"/api/mentoring/sessions/{session_id}/recordings"
    try:
        assert (await mentee.post(f"{base}/request")).status == 202
        assert (await mentor.post(f"{base}/answer", json={"accept": True})).status == 200
        for ws in sockets:
            told = await states(ws, "failed")
            assert [s["state"] for s in told] == ["asked", "starting", "recording", "failed"]
            assert told[0]["by"] == MENTEE
            assert "space" in told[-1]["reason"].lower(), told[-1]
        listed = await (await mentee.get(base)).json()
        assert listed["state"] == "idle"
        (part,) = listed["recordings"]
        assert part["status"] == "failed" and "space" in part["error"].lower()
        assert part["sizeBytes"] > 0
        stored = await server.app[keys.STORE].get_recording(part["id"])
        assert stored is not None
        kept = describe(server.app[keys.RECORDINGS].path_of(stored))
        assert kept.streams == 4 and kept.duration_s > 0  # what was written stays playable
        file = await mentor.get(part["url"])
        assert file.status == 200 and len(await file.read()) == part["sizeBytes"]
    finally:
        for ws in sockets:
            await ws.close()
        for peer in peers:
            await peer.close()


async def test_old_recordings_are_purged_after_the_retention_days(
    aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings, retention_days=7)
    service = server.app[keys.RECORDINGS]
    store = server.app[keys.STORE]
    now = utcnow()
    for name, age_days in (("old", 8), ("recent", 6)):
        started = now - timedelta(days=age_days)
        part = Recording(name, "s1", MENTOR, f"s1/{name}.webm", started, started, 60.0, 3)
        service.path_of(part).parent.mkdir(parents=True, exist_ok=True)
        service.path_of(part).write_bytes(b"abc")
        await store.add_recording(part)
    assert await service.purge(now) == 1
    assert [r.recording_id for r in await store.list_recordings("s1")] == ["recent"]
    assert not (service.folder / "s1" / "old.webm").exists()
    assert (service.folder / "s1" / "recent.webm").exists()
    assert (await store.get_recording("recent")).status is RecordingStatus.RECORDING  # type: ignore[union-attr]


async def test_recording_can_be_turned_off_for_the_whole_server(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, make_settings: SettingsFactory
) -> None:
    server = await start(aiohttp_server, make_settings, enabled=False)
    session_id = await open_session(server)
    mentee = await user(aiohttp_client, server, MENTEE)
    base = f"/api/mentoring/sessions/{session_id}/recordings"
    listed = await (await mentee.get(base)).json()
    assert listed["enabled"] is False
    refused = await mentee.post(f"{base}/request")
    assert refused.status == 409
    assert (await refused.json())["error"] == "Recording is turned off on this server"
