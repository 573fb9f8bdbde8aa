"""Recording a relayed call: two real aiortc peers publish through the relay, whose
publications feed the recorder; the file holds both participants' audio and video (read back
with PyAV, the video decodes), survives a participant's reconnect, and a full disk stops the
recording with what was written still playable."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest

from bench.media import ColourVideoTrack, ToneAudioTrack, loopback_host_addresses
from config.settings import RelaySettings
from relay.errors import RecordingRefused
from relay.manager import RelayManager
from relay.recording.writer import describe
from tests.integration.test_relay_media import BLUE, RED, Peer, join, make_peer, until

SESSION = "recorded-session"


@pytest.fixture(autouse=True)
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


@pytest.fixture
async def manager() -> AsyncIterator[RelayManager]:
    relay = RelayManager(RelaySettings(max_sessions=4), [])
    yield relay
    await relay.close()


async def call(
    relay: RelayManager, ana_camera: ColourVideoTrack | None = None
) -> tuple[Peer, Peer]:
    ana = make_peer(ana_camera or ColourVideoTrack(RED), ToneAudioTrack(440))
    ben = make_peer(ColourVideoTrack(BLUE), ToneAudioTrack(660))
    await join(relay, SESSION, "ana", ana)
    await join(relay, SESSION, "ben", ben)
    await until(lambda: len(ana.video) > 5 and len(ben.video) > 5, timeout=60)
    return ana, ben


async def record_for(seconds: float, cameras: list[ColourVideoTrack]) -> None:
    """Let the recording run ``seconds``, and until each camera has produced that many
    seconds of frames at 30 fps (a busy machine's encoder falls behind the wall clock)."""
    wanted = [camera.frames + int(seconds * 30) for camera in cameras]
    await asyncio.sleep(seconds)
    await until(
        lambda: all(c.frames >= n for c, n in zip(cameras, wanted, strict=True)), timeout=60
    )


def read_back(path: Path) -> dict[str, int]:
    """Decoded frames per stream title; every stream's packets decode."""
    decoded: dict[str, int] = {}
    with av.open(str(path)) as container:
        for stream in container.streams:
            decoded[stream.metadata.get("title", str(stream.index))] = 0
        for packet in container.demux():
            if packet.size == 0:
                continue
            for _frame in packet.decode():
                title = packet.stream.metadata.get("title", str(packet.stream.index))
                decoded[title] += 1
    return decoded


async def test_a_relayed_call_is_recorded_with_both_sides_audio_and_video(
    manager: RelayManager, tmp_path: Path
) -> None:
    ana_camera = ColourVideoTrack(RED)
    ana, ben = await call(manager, ana_camera)
    path = tmp_path / "part-1.webm"
    await manager.start_recording(SESSION, str(path))
    started = time.monotonic()
    assert manager.is_recording(SESSION)
    with pytest.raises(RecordingRefused):
        await manager.start_recording(SESSION, str(tmp_path / "again.webm"))
    await record_for(2.0, [ana_camera])
    # Ben reconnects (a new connection, new SSRCs): the recording carries on in the same file.
    await ben.close()
    ben_camera = ColourVideoTrack(BLUE)
    ben = make_peer(ben_camera, ToneAudioTrack(660))
    await join(manager, SESSION, "ben", ben)
    await until(lambda: len(ben.video) > 5, timeout=60)
    await record_for(1.5, [ana_camera, ben_camera])
    result = await manager.stop_recording(SESSION)
    recorded_s = time.monotonic() - started
    assert result is not None and result.error is None
    assert not manager.is_recording(SESSION)
    assert result.path == path and result.size_bytes == path.stat().st_size > 0
    assert result.streams == 4
    # At least the two stretches recorded on purpose, at most the time it was on (a busy
    # machine's reconnect can take seconds, so that is measured rather than assumed).
    assert 3.0 <= result.duration_s <= recorded_s + 1.0, (result, recorded_s)
    with av.open(str(path)) as container:
        kinds = sorted((s.type, s.codec_context.name) for s in container.streams)
    assert kinds == [("audio", "opus"), ("audio", "opus"), ("video", "vp8"), ("video", "vp8")]
    decoded = read_back(path)
    assert decoded["ana video"] > 30 and decoded["ben video"] > 30, decoded
    assert decoded["ana audio"] > 50 and decoded["ben audio"] > 50, decoded
    await ana.close()
    await ben.close()


async def test_recording_needs_the_session_on_the_relay(
    manager: RelayManager, tmp_path: Path
) -> None:
    with pytest.raises(RecordingRefused):
        await manager.start_recording("nobody-here", str(tmp_path / "x.webm"))
    assert await manager.stop_recording("nobody-here") is None


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` (tmpfs; needs root), to fill up."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_a_full_disk_stops_the_recording_and_keeps_what_was_written(
    manager: RelayManager, tmp_path: Path
) -> None:
    ana, ben = await call(manager)
    failures: list[str] = []
    with tiny_disk(tmp_path / "disk", "96k") as disk:
        path = disk / "part-1.webm"
        await manager.start_recording(SESSION, str(path), failures.append)
        await until(lambda: bool(failures), timeout=30)
        assert not manager.is_recording(SESSION)
        assert "No space left" in failures[0] or "space" in failures[0].lower(), failures
        result = await manager.stop_recording(SESSION)
        assert result is not None and result.error is not None
        kept = describe(path)
        assert kept.size_bytes > 0 and kept.streams == 4
        assert kept.duration_s > 0
        decoded = read_back(path)
        assert decoded["ana video"] > 0, decoded
    await ana.close()
    await ben.close()
