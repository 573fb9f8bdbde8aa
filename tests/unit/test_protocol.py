"""Pusher protocol frames, channel names and codes (signaling/protocol.py)."""

from __future__ import annotations

import json

import pytest

from signaling import protocol as p


def decoded(frame: str) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(frame)
    return parsed


def test_connection_established_data_is_a_json_string() -> None:
    frame = decoded(p.connection_established("123.456", 120))
    assert frame["event"] == "pusher:connection_established"
    assert isinstance(frame["data"], str)
    assert json.loads(frame["data"]) == {"socket_id": "123.456", "activity_timeout": 120}


def test_error_frame_carries_message_and_code_or_null() -> None:
    assert json.loads(str(decoded(p.error("boom", 4301))["data"])) == {
        "message": "boom",
        "code": 4301,
    }
    assert json.loads(str(decoded(p.error("boom"))["data"]))["code"] is None


def test_presence_subscription_succeeded_lists_ids_hash_and_count() -> None:
    frame = decoded(p.subscription_succeeded("presence-a", {"u1": {"name": "A"}, "u2": None}))
    assert frame["channel"] == "presence-a"
    assert frame["event"] == "pusher_internal:subscription_succeeded"
    assert json.loads(str(frame["data"])) == {
        "presence": {"ids": ["u1", "u2"], "hash": {"u1": {"name": "A"}, "u2": None}, "count": 2}
    }
    assert json.loads(str(decoded(p.subscription_succeeded("x"))["data"])) == {}


def test_member_and_subscription_error_frames() -> None:
    added = decoded(p.member_added("presence-a", "u1", {"role": "mentor"}))
    assert json.loads(str(added["data"])) == {"user_id": "u1", "user_info": {"role": "mentor"}}
    removed = decoded(p.member_removed("presence-a", "u1"))
    assert json.loads(str(removed["data"])) == {"user_id": "u1"}
    error = decoded(p.subscription_error("private-a", "AuthError", "bad", 401))
    assert error["event"] == "pusher:subscription_error"
    assert json.loads(str(error["data"])) == {"type": "AuthError", "error": "bad", "status": 401}


def test_channel_event_forwards_data_as_given_and_adds_user_id() -> None:
    assert decoded(p.channel_event("c", "e", {"a": 1})) == {
        "event": "e",
        "channel": "c",
        "data": {"a": 1},
    }
    assert decoded(p.channel_event("c", "e", "text", "u"))["user_id"] == "u"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("presence-session-abc_DEF-1=@,.;", True),
        ("a" * 164, True),
        ("a" * 165, False),
        ("", False),
        ("with space", False),
        ("#server-to-user-1", False),
        ("ünicode", False),
        (42, False),
    ],
)
def test_channel_name_rules(name: object, valid: bool) -> None:
    assert p.is_valid_channel_name(name) is valid


def test_channel_kinds_and_client_event_permission() -> None:
    assert p.channel_kind("presence-x") is p.ChannelKind.PRESENCE
    assert p.channel_kind("private-x") is p.ChannelKind.PRIVATE
    assert p.channel_kind("private-encrypted-x") is p.ChannelKind.ENCRYPTED
    assert p.channel_kind("x") is p.ChannelKind.PUBLIC
    assert p.allows_client_events("private-x") and p.allows_client_events("presence-x")
    assert not p.allows_client_events("x")
    assert not p.allows_client_events("private-encrypted-x")


def test_socket_ids_match_pusher_format() -> None:
    ids = {p.new_socket_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(p.SOCKET_ID_RE.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7),
        ("5", 5),
        ("4", p.CloseCode.UNSUPPORTED_PROTOCOL),
        ("8", p.CloseCode.UNSUPPORTED_PROTOCOL),
        ("", p.CloseCode.NO_PROTOCOL),
        (None, p.CloseCode.NO_PROTOCOL),
        ("7.0", p.CloseCode.INVALID_VERSION),
    ],
)
def test_protocol_versions(raw: str | None, expected: int) -> None:
    assert p.parse_protocol_version(raw) == expected


def test_close_code_ranges_mean_what_pusher_js_expects() -> None:
    assert 4000 <= p.CloseCode.APP_NOT_FOUND < 4100  # do not reconnect
    assert 4100 <= p.CloseCode.SLOW_CLIENT < 4200  # back off
    assert 4200 <= p.CloseCode.PONG_NOT_RECEIVED < 4300  # reconnect at once
    assert int(p.CloseCode.CLIENT_EVENT_RATE_LIMIT) == 4301


def test_parse_frame_accepts_object_or_string_data() -> None:
    frame = p.parse_frame('{"event":"pusher:subscribe","data":"{\\"channel\\":\\"a\\"}"}')
    assert frame.data == {"channel": "a"}
    client = p.parse_frame('{"event":"client-x","channel":"private-a","data":"{\\"k\\":1}"}')
    assert client.data == '{"k":1}'  # client events are forwarded untouched
    assert client.raw_data == '{"k":1}'


@pytest.mark.parametrize(
    "text",
    ["", "nope", "[]", "{}", '{"event":""}', '{"event":1}', '{"event":"e","channel":5}'],
)
def test_parse_frame_rejects_malformed_frames(text: str) -> None:
    with pytest.raises(p.ProtocolError):
        p.parse_frame(text)


def test_deeply_nested_json_is_a_protocol_error() -> None:
    with pytest.raises(p.ProtocolError):
        p.parse_frame("[" * 100_000 + "]" * 100_000)


def test_parse_subscribe_and_channel_data() -> None:
    sub = p.parse_subscribe({"channel": "presence-a", "auth": "k:s", "channel_data": "{}"})
    assert sub == p.Subscribe("presence-a", "k:s", "{}")
    with pytest.raises(p.ProtocolError):
        p.parse_subscribe({"channel": "bad name"})
    with pytest.raises(p.ProtocolError):
        p.parse_subscribe("presence-a")
    member = p.parse_channel_data('{"user_id": 7, "user_info": {"name": "N"}}')
    assert member == p.PresenceMember("7", {"name": "N"})
    for bad in (None, "x", "[]", '{"user_info": {}}', '{"user_id": ""}', '{"user_id": true}'):
        with pytest.raises(p.ProtocolError):
            p.parse_channel_data(bad)


def test_data_size_counts_utf8_bytes() -> None:
    assert p.data_size("é") == 2
    assert p.data_size({"a": 1}) == len('{"a":1}')
