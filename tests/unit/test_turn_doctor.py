"""The self-test's plain-words findings when things are missing or unreachable."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import pytest

from config.loader import build_settings
from config.settings import TurnSettings
from tests.support.procs import free_port
from turn.doctor import diagnose, report, run_doctor


def turn_settings(**values: object) -> TurnSettings:
    return build_settings({"turn": dict(values)}).turn


async def findings(turn: TurnSettings) -> tuple[int, str]:
    out = io.StringIO()
    status = report(await diagnose(turn, wait_s=1.0), out)
    return status, out.getvalue()


async def test_nothing_configured_is_a_warning_not_a_failure() -> None:
    status, text = await findings(TurnSettings())
    assert status == 0
    assert "No TURN server is configured" in text
    assert "Set turn.uris" in text


async def test_uris_without_a_secret_fail_with_the_setting_to_fix() -> None:
    port = free_port()
    status, text = await findings(turn_settings(uris=[f"turn:127.0.0.1:{port}"]))
    assert status == 1
    assert "turn.shared_secret is empty" in text
    assert "PANAMIA_TURN__SHARED_SECRET_FILE" in text


async def test_nothing_listening_is_explained_for_udp_and_tcp() -> None:
    port = free_port()
    status, text = await findings(turn_settings(uris=[f"turn:127.0.0.1:{port}"], shared_secret="s"))
    assert status == 1
    lines = text.splitlines()
    stun_line = next(line for line in lines if line.startswith(f"FAIL  stun:127.0.0.1:{port}"))
    assert f"UDP port {port}" in stun_line
    tcp_index = next(
        i for i, line in enumerate(lines) if f"{port}?transport=tcp: Nothing accepts" in line
    )
    assert "Start the STUN/TURN server (coturn)" in lines[tcp_index + 1]
    assert "check(s) failed" in lines[-1]


@pytest.fixture
async def silent_udp_port() -> AsyncIterator[int]:
    """A UDP socket that receives and never answers, like a firewall that drops packets."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


async def test_a_silent_server_is_reported_as_no_answer(silent_udp_port: int) -> None:
    status, text = await findings(turn_settings(stun_uris=[f"stun:127.0.0.1:{silent_udp_port}"]))
    assert status == 1
    assert f"No answer from 127.0.0.1 on UDP port {silent_udp_port} within 1 s" in text
    assert "open in the firewall" in text


async def test_an_unresolvable_host_names_the_host() -> None:
    status, text = await findings(
        turn_settings(uris=["turn:no-such-host.invalid:3478"], shared_secret="s")
    )
    assert status == 1
    assert "The name no-such-host.invalid does not resolve" in text


async def test_a_bad_uri_is_reported_not_raised() -> None:
    status, text = await findings(turn_settings(uris=["http://example.org"], shared_secret="s"))
    assert status == 1
    assert "Fix turn.uris" in text


def test_run_doctor_prints_and_returns_the_status() -> None:
    out = io.StringIO()
    port = free_port()
    status = run_doctor(turn_settings(stun_uris=[f"stun:127.0.0.1:{port}"]), timeout=1.0, out=out)
    assert status == 1
    assert f"FAIL  stun:127.0.0.1:{port}: Nothing accepts connections" in out.getvalue()


async def test_the_event_loop_is_left_clean() -> None:
    # diagnose must not leave sockets or tasks behind when everything fails
    before = len(asyncio.all_tasks())
    await diagnose(turn_settings(uris=[f"turn:127.0.0.1:{free_port()}"], shared_secret="s"))
    assert len(asyncio.all_tasks()) == before


async def test_the_servers_own_stun_responder_is_checked_first() -> None:
    from turn.stun_server import StunResponder

    responder = StunResponder("127.0.0.1", 0)
    await responder.start()
    try:
        assert responder.address is not None
        own = f"stun:127.0.0.1:{responder.address[1]}"
        checks = await diagnose(build_settings({}).turn, wait_s=2.0, own_stun=[own])
    finally:
        await responder.close()
    assert checks[1].subject == own and checks[1].level == "ok", checks
    assert "STUN answers" in checks[1].finding


async def test_a_silent_own_stun_responder_is_a_warning(silent_udp_port: int) -> None:
    own = f"stun:127.0.0.1:{silent_udp_port}"
    checks = await diagnose(build_settings({}).turn, wait_s=0.5, own_stun=[own])
    [check] = [c for c in checks if c.subject == own]
    assert check.level == "warn"
    assert "panamia serve" in check.advice
