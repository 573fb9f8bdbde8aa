"""The relay's start-up self-check of aiortc/aioice internals, and what a failure does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc.rtcrtpsender import RTCRtpSender

from config.settings import RelaySettings
from relay import compat
from relay.api import make_relay_routes
from relay.introspect import defines
from relay.manager import RelayManager

Client = TestClient[Any, Any]
MakeClient = Callable[[web.Application], Awaitable[Client]]


async def authorize(request: web.Request, session_id: str) -> str:
    return "alice"


def test_the_pinned_versions_have_every_expected_name() -> None:
    assert compat.self_check() == []


def test_names_assigned_only_later_are_found_in_the_class_code() -> None:
    # A sender's MID exists only once aiortc has started it; the check reads the class code.
    assert not hasattr(RTCRtpSender, compat.SENDER_MID)
    assert defines(RTCRtpSender, compat.SENDER_MID)
    missing = compat.Expected("aiortc", RTCRtpSender, "_RTCRtpSender__renamed")
    [problem] = compat.self_check((missing,))
    assert "_RTCRtpSender__renamed" in problem


async def test_a_missing_attribute_disables_the_relay_and_its_offer_endpoint(
    monkeypatch: pytest.MonkeyPatch, aiohttp_client: MakeClient
) -> None:
    monkeypatch.delattr(RTCRtpSender, compat.SENDER_SEND_KEYFRAME)
    manager = RelayManager(RelaySettings(), [])
    await manager.start()
    reason = manager.unavailable_reason
    assert reason is not None
    assert "RTCRtpSender" in reason and "'_send_keyframe'" in reason
    versions = compat.installed_versions()
    assert f"aiortc {versions['aiortc']}" in reason
    assert "aiortc >=1.16,<1.17" in reason and "aioice >=0.13,<0.14" in reason

    app = web.Application()
    app.router.add_routes(make_relay_routes(manager, authorize))
    client = await aiohttp_client(app)
    response = await client.post(
        "/api/relay/sessions/s1/offer", json={"sdp": "v=0", "type": "offer"}
    )
    assert response.status == 503
    assert await response.json() == {"error": reason, "code": "relay_unavailable"}
    assert manager.stats()["sessions"] == 0
    await manager.close()


async def test_a_missing_instance_attribute_is_reported_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renamed = compat.Expected("aiortc", RTCRtpSender, "_RTCRtpSender__packet_total")
    monkeypatch.setattr(compat, "EXPECTED", (*compat.EXPECTED, renamed))
    manager = RelayManager(RelaySettings(), [])
    await manager.start()
    assert manager.unavailable_reason is not None
    assert "'_RTCRtpSender__packet_total'" in manager.unavailable_reason


async def test_a_passing_self_check_leaves_the_relay_available() -> None:
    manager = RelayManager(RelaySettings(), [])
    await manager.start()
    assert manager.unavailable_reason is None
    await manager.close()
