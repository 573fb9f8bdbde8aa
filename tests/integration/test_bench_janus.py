"""The relay bench's Janus baseline: its configuration, its loopback shim, and one stream.

Skips when Janus 1.1.2 or a C compiler is missing (``bench.janus.missing_reason``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import janus
from bench.media import encode_vp8_loop, loopback_only
from bench.relay_load import drive

pytestmark = pytest.mark.skipif(
    janus.missing_reason() is not None, reason=janus.missing_reason() or ""
)


def test_the_configuration_loads_only_videoroom_and_http_on_loopback(tmp_path: Path) -> None:
    main = janus.write_config(tmp_path, http_port=18088, event_loops=1)
    text = main.read_text()
    assert "event_loops = 1" in text
    assert 'ice_enforce_list = "lo"' in text
    assert "broadcast = false" in text
    assert sorted(p.name for p in (tmp_path / "plugins").iterdir()) == [janus.PLUGIN]
    assert sorted(p.name for p in (tmp_path / "transports").iterdir()) == [janus.TRANSPORT]
    assert not list((tmp_path / "events").iterdir())
    assert not list((tmp_path / "loggers").iterdir())
    http = (tmp_path / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in http and "port = 18088" in http
    assert (tmp_path / "janus.plugin.videoroom.jcfg").exists()


def test_the_loopback_shim_builds_as_a_preloadable_library(tmp_path: Path) -> None:
    library = janus.build_shim(tmp_path)
    assert library.read_bytes()[:4] == b"\x7fELF"


def test_a_missing_janus_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(janus, "JANUS_BINARY", "/nonexistent/janus")
    reason = janus.missing_reason()
    assert reason is not None and "/nonexistent/janus" in reason


async def test_one_stream_goes_through_janus_videoroom() -> None:
    frames = encode_vp8_loop(width=160, height=120, frames=10, bitrate=100_000)
    with loopback_only():
        async with (
            janus.running_janus(event_loops=1, pin=False) as server,
            janus.JanusTarget(server) as target,
        ):
            point = await drive("janus", target, 1, frames, warmup=0.5, window=1.5, fps=10)
    assert point.fps_min > 0  # Janus forwarded the publisher's frames to the subscriber
    assert point.idle_rss_mb > 0
