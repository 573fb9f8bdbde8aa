"""The built-in STUN responder answers Binding requests with the sender's address, and
nothing else."""

from __future__ import annotations

import asyncio
import socket

import pytest

from turn import stun
from turn.stun_server import StunResponder, binding_answer


async def test_binding_request_gets_the_senders_address() -> None:
    responder = StunResponder("127.0.0.1", 0)
    await responder.start()
    try:
        address = responder.address
        assert address is not None
        async with stun.Channel("udp", "127.0.0.1", address[1], 3.0) as channel:
            assert channel._udp is not None
            local = channel._udp.get_extra_info("sockname")
            mapped = await stun.binding(channel)
        assert mapped == ("127.0.0.1", local[1])
        assert responder.counters.answered == 1
    finally:
        await responder.close()


async def test_other_datagrams_get_no_answer() -> None:
    responder = StunResponder("127.0.0.1", 0)
    await responder.start()
    try:
        address = responder.address
        assert address is not None
        allocate = stun.Message(stun.ALLOCATE, stun.REQUEST).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for junk in (b"hello", b"\x00" * 20, allocate, stun.Message(1, 0).encode() * 40):
                sock.sendto(junk, address)
            await asyncio.sleep(0.3)
            with pytest.raises(BlockingIOError):
                sock.recv(2048)
        assert responder.counters.dropped == 4
    finally:
        await responder.close()


def test_ipv6_sources_are_answered() -> None:
    request = stun.Message(stun.BINDING, stun.REQUEST)
    answer = binding_answer(request.encode(), ("2001:db8::7", 4242))
    assert answer is not None
    decoded = stun.decode(answer)
    assert decoded.klass == stun.SUCCESS
    assert decoded.transaction_id == request.transaction_id
    assert decoded.xor_address(stun.XOR_MAPPED_ADDRESS) == ("2001:db8::7", 4242)


async def test_a_taken_port_is_an_error_the_caller_can_catch() -> None:
    first = StunResponder("127.0.0.1", 0)
    await first.start()
    try:
        assert first.address is not None
        second = StunResponder("127.0.0.1", first.address[1])
        with pytest.raises(OSError):
            await second.start()
    finally:
        await first.close()


def test_the_offered_uri_follows_the_public_url_and_settings() -> None:
    from config.loader import build_settings

    default = build_settings({"http": {"public_url": "https://meet.example.org"}})
    assert default.builtin_stun_uri == "stun:meet.example.org:3479"
    named = build_settings({"stun": {"public_host": "203.0.113.9", "port": 3500}})
    assert named.builtin_stun_uri == "stun:203.0.113.9:3500"
    assert build_settings({"stun": {"enabled": False}}).builtin_stun_uri is None
    ipv6 = build_settings({"stun": {"public_host": "2001:db8::1"}})
    assert ipv6.builtin_stun_uri == "stun:[2001:db8::1]:3479"


def test_stun_uris_take_only_stun_uris() -> None:
    from config.loader import build_settings
    from turn.uris import UriError
    from web.api.ice import own_stun_uris

    settings = build_settings({"stun": {"uris": ["stun:stun.example.org"]}})
    assert own_stun_uris(settings, 3479) == [
        "stun:localhost:3479",
        "stun:stun.example.org:3478",
    ]
    with pytest.raises(UriError, match=r"stun\.uris"):
        own_stun_uris(build_settings({"stun": {"uris": ["turn:t.example.org"]}}), 3479)
