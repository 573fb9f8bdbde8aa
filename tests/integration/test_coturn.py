"""Against a real coturn: our rendered config, our credentials, our self-test, and aiortc."""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)

from config.loader import build_settings
from config.settings import TurnSettings
from tests.support.procs import find_tool, free_port, running
from turn import stun
from turn.credentials import ice_servers, mint
from turn.doctor import diagnose, report
from turn.render import render_config

SECRET = "integration-shared-secret"


@dataclass(frozen=True)
class Coturn:
    port: int
    settings: TurnSettings
    log_file: Path


def _settings(port: int, tmp: Path, **extra: Any) -> TurnSettings:
    relay_min = random.randrange(50000, 59000, 100)
    values: dict[str, Any] = {
        "uris": [f"turn:127.0.0.1:{port}"],
        "shared_secret": SECRET,
        "ttl_s": 600,
        "listening_port": port,
        "listening_ips": ["127.0.0.1"],
        "relay_ips": ["127.0.0.1"],
        "relay_min_port": relay_min,
        "relay_max_port": relay_min + 40,
        "log_file": str(tmp / "turn.log"),
        "pidfile": str(tmp / "turn.pid"),
        "userdb": str(tmp / "turndb"),
        **extra,
    }
    return build_settings({"turn": values}).turn


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    binary = find_tool("turnserver")
    if binary is None:
        pytest.skip("coturn is not installed (CI installs it: apt-get install coturn)")
    tmp = tmp_path_factory.mktemp("coturn")
    port = free_port()
    settings = _settings(port, tmp)
    config = tmp / "turnserver.conf"
    config.write_text(render_config(settings, allow_loopback_peers=True))
    with running([binary, "-c", str(config)], port):
        yield Coturn(port, settings, tmp / "turn.log")


async def _allocate(coturn: Coturn, transport: str, username: str, password: str) -> Any:
    async with stun.Channel(transport, "127.0.0.1", coturn.port, 3.0) as channel:
        return await stun.allocate(channel, username, password)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_fresh_credentials_get_an_allocation(coturn: Coturn, transport: str) -> None:
    cred = mint(SECRET, "ana@example.org", 600)
    allocation = await _allocate(coturn, transport, cred.username, cred.credential)
    assert allocation.relayed is not None
    host, port = allocation.relayed
    assert host == "127.0.0.1"
    assert coturn.settings.relay_min_port <= port <= coturn.settings.relay_max_port


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_expired_credentials_are_refused(coturn: Coturn, transport: str) -> None:
    cred = mint(SECRET, "ana@example.org", 60, now=time.time() - 3600)
    assert cred.expires_at < time.time()
    with pytest.raises(stun.StunErrorResponse) as refused:
        await _allocate(coturn, transport, cred.username, cred.credential)
    assert refused.value.code == 401


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_credentials_from_another_secret_are_refused(coturn: Coturn, transport: str) -> None:
    cred = mint("some-other-secret", "ana@example.org", 600)
    with pytest.raises(stun.StunErrorResponse) as refused:
        await _allocate(coturn, transport, cred.username, cred.credential)
    assert refused.value.code == 401


async def test_stun_binding_reports_our_address(coturn: Coturn) -> None:
    async with stun.Channel("udp", "127.0.0.1", coturn.port, 3.0) as channel:
        mapped = await stun.binding(channel)
    assert mapped is not None and mapped[0] == "127.0.0.1"


async def test_doctor_passes_against_a_working_coturn(coturn: Coturn) -> None:
    checks = await diagnose(coturn.settings, wait_s=3.0)
    out = io.StringIO()
    assert report(checks, out) == 0, out.getvalue()
    text = out.getvalue()
    assert f"turn:127.0.0.1:{coturn.port}?transport=udp: TURN works" in text
    assert f"turn:127.0.0.1:{coturn.port}?transport=tcp: TURN works" in text
    assert f"stun:127.0.0.1:{coturn.port}: STUN answers" in text
    # a loopback relay is not reachable from the internet: the doctor says what to set
    assert "turn.external_ip" in text
    assert "accepts a wrong password" not in text


async def test_doctor_explains_a_secret_mismatch(coturn: Coturn, tmp_path: Path) -> None:
    wrong = _settings(coturn.port, tmp_path, shared_secret="not-the-coturn-secret")
    out = io.StringIO()
    assert report(await diagnose(wrong, wait_s=3.0), out) == 1
    text = out.getvalue()
    assert "refused the app's credentials" in text
    assert "static-auth-secret" in text
    assert "panamia turn-config" in text


async def _gather(servers: list[RTCIceServer]) -> str:
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_aiortc_gathers_a_relay_candidate_from_our_ice_servers(
    coturn: Coturn, transport: str
) -> None:
    entry = next(s for s in ice_servers(coturn.settings, "ana@example.org") if "username" in s)
    (url,) = [u for u in entry["urls"] if u.endswith(f"transport={transport}")]
    server = RTCIceServer(urls=[url], username=entry["username"], credential=entry["credential"])
    sdp = await _gather([server])
    assert "typ relay" in sdp


async def test_aiortc_gathers_no_relay_candidate_with_a_wrong_secret(coturn: Coturn) -> None:
    cred = mint("some-other-secret", "ana@example.org", 600)
    server = RTCIceServer(
        urls=[f"turn:127.0.0.1:{coturn.port}?transport=udp"],
        username=cred.username,
        credential=cred.credential,
    )
    assert "typ relay" not in await _gather([server])


async def test_two_relay_only_peers_talk_through_coturn_one_over_tcp(coturn: Coturn) -> None:
    """The UDP-blocked case in small: one side reaches TURN over TCP, the other over UDP."""
    entry = next(s for s in ice_servers(coturn.settings, "ana@example.org") if "username" in s)

    def peer(transport: str) -> RTCPeerConnection:
        (url,) = [u for u in entry["urls"] if u.endswith(f"transport={transport}")]
        server = RTCIceServer(
            urls=[url], username=entry["username"], credential=entry["credential"]
        )
        return RTCPeerConnection(
            RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
        )

    caller, callee = peer("tcp"), peer("udp")
    received: asyncio.Queue[str] = asyncio.Queue()
    try:
        channel = caller.createDataChannel("chat")

        @callee.on("datachannel")
        def on_datachannel(incoming: Any) -> None:
            incoming.on("message", received.put_nowait)

        opened = asyncio.Event()
        channel.on("open", opened.set)
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)
        await asyncio.wait_for(opened.wait(), 30)
        channel.send("hello through TURN")
        assert await asyncio.wait_for(received.get(), 30) == "hello through TURN"
        assert "typ relay" in caller.localDescription.sdp
        assert "typ host" not in caller.localDescription.sdp
    finally:
        await caller.close()
        await callee.close()
