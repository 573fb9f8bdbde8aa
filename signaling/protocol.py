"""Pusher Channels protocol (version 7): frames, channel names, error and close codes.

Pure functions over text; nothing here does I/O or imports the rest of the project.

Wire facts (as pusher-js expects them):

- every frame is a JSON object ``{"event": ..., "channel"?: ..., "data"?: ..., "user_id"?: ...}``;
- the ``data`` of ``pusher:`` and ``pusher_internal:`` events sent by the server is a
  JSON-encoded *string*; clients may send theirs as an object or a string;
- close codes 4000-4099 mean "do not reconnect", 4100-4199 "reconnect after backing off",
  4200-4299 "reconnect at once"; 4300-4399 are errors sent as ``pusher:error`` frames on a
  connection that stays open (4301: client event rate limit).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

SUPPORTED_PROTOCOLS = frozenset({5, 6, 7})
MAX_CHANNEL_NAME = 164
MAX_EVENT_NAME = 200
MAX_CLIENT_EVENT_BYTES = 10 * 1024
MAX_PRESENCE_MEMBERS = 100
MAX_USER_ID = 200
CHANNEL_NAME_RE = re.compile(r"[A-Za-z0-9_\-=@,.;]+")
SOCKET_ID_RE = re.compile(r"\d{1,20}\.\d{1,20}")

_COMPACT = (",", ":")


class CloseCode(IntEnum):
    """Pusher's close codes (also used as ``code`` in ``pusher:error``)."""

    SSL_ONLY = 4000
    APP_NOT_FOUND = 4001
    APP_DISABLED = 4003
    APP_OVER_QUOTA = 4004
    PATH_NOT_FOUND = 4005
    INVALID_VERSION = 4006
    UNSUPPORTED_PROTOCOL = 4007
    NO_PROTOCOL = 4008
    UNAUTHORIZED = 4009
    OVER_CAPACITY = 4100
    SLOW_CLIENT = 4101
    """Our choice within "back off": the client did not read its frames fast enough."""
    RECONNECT = 4200
    PONG_NOT_RECEIVED = 4201
    INACTIVE = 4202
    CLIENT_EVENT_RATE_LIMIT = 4301
    """An error frame, not a close: the connection stays open."""
    CLIENT_EVENT_REFUSED = 4302
    """Our choice within Pusher's 4300-4399 "other errors": the app refused a client event
    it keeps (see ``signaling.persisted``). An error frame, not a close."""
    BUS_UNAVAILABLE = 4303
    """Our choice within 4300-4399: the hub cannot reach its message bus (Redis down), so a
    client event was not sent. An error frame, not a close: send again once it is back."""


class ChannelKind(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    ENCRYPTED = "private-encrypted"
    PRESENCE = "presence"


class ProtocolError(ValueError):
    """A frame or field the protocol does not allow; ``message`` goes to the client."""


def channel_kind(name: str) -> ChannelKind:
    if name.startswith("presence-"):
        return ChannelKind.PRESENCE
    if name.startswith("private-encrypted-"):
        return ChannelKind.ENCRYPTED
    if name.startswith("private-"):
        return ChannelKind.PRIVATE
    return ChannelKind.PUBLIC


def is_valid_channel_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_CHANNEL_NAME
        and CHANNEL_NAME_RE.fullmatch(name) is not None
    )


def needs_auth(name: str) -> bool:
    return channel_kind(name) is not ChannelKind.PUBLIC


def allows_client_events(name: str) -> bool:
    """Client events are allowed on private and presence channels (not encrypted ones, whose
    payloads the server could not check)."""
    return channel_kind(name) in (ChannelKind.PRIVATE, ChannelKind.PRESENCE)


def new_socket_id() -> str:
    return f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"


def parse_protocol_version(raw: str | None) -> int | CloseCode:
    """The client's protocol version, or the close code refusing it."""
    if raw is None or raw == "":
        return CloseCode.NO_PROTOCOL
    if not raw.isdigit() or len(raw) > 4:
        return CloseCode.INVALID_VERSION
    version = int(raw)
    return version if version in SUPPORTED_PROTOCOLS else CloseCode.UNSUPPORTED_PROTOCOL


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame received from a client."""

    event: str
    channel: str | None
    data: Any
    raw_data: Any
    """``data`` exactly as sent (object or string), forwarded unchanged in client events."""


def parse_frame(text: str) -> Frame:
    """Parse a client frame. ``data`` is decoded when it is a JSON string (as older clients send
    it for ``pusher:`` events); ``raw_data`` keeps what was sent."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("Malformed frame: not JSON") from exc
    if not isinstance(message, dict):
        raise ProtocolError("Malformed frame: expected a JSON object")
    event = message.get("event")
    if not isinstance(event, str) or not event or len(event) > MAX_EVENT_NAME:
        raise ProtocolError("Malformed frame: missing or invalid 'event'")
    channel = message.get("channel")
    if channel is not None and not isinstance(channel, str):
        raise ProtocolError("Malformed frame: 'channel' must be a string")
    raw_data = message.get("data")
    data = raw_data
    if isinstance(raw_data, str) and event.startswith("pusher:"):
        try:
            data = json.loads(raw_data)
        except (ValueError, RecursionError):
            data = raw_data
    return Frame(event=event, channel=channel, data=data, raw_data=raw_data)


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: str
    auth: str | None
    channel_data: str | None


def parse_subscribe(data: Any) -> Subscribe:
    if not isinstance(data, dict):
        raise ProtocolError("pusher:subscribe needs a data object")
    channel = data.get("channel")
    if not is_valid_channel_name(channel):
        raise ProtocolError("Invalid channel name")
    assert isinstance(channel, str)
    auth = data.get("auth")
    channel_data = data.get("channel_data")
    return Subscribe(
        channel=channel,
        auth=auth if isinstance(auth, str) else None,
        channel_data=channel_data if isinstance(channel_data, str) else None,
    )


@dataclass(frozen=True, slots=True)
class PresenceMember:
    user_id: str
    user_info: Any


def parse_channel_data(channel_data: str | None) -> PresenceMember:
    """The member a presence subscription announces (``{"user_id":..., "user_info":...}``)."""
    if channel_data is None:
        raise ProtocolError("Presence channels need channel_data")
    try:
        parsed = json.loads(channel_data)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("channel_data is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ProtocolError("channel_data must be a JSON object")
    user_id = parsed.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        raise ProtocolError("channel_data needs a user_id")
    user_id = str(user_id)
    if not user_id or len(user_id) > MAX_USER_ID:
        raise ProtocolError("Invalid user_id")
    return PresenceMember(user_id=user_id, user_info=parsed.get("user_info"))


def encode(obj: Any) -> str:
    return json.dumps(obj, separators=_COMPACT, ensure_ascii=False)


def _internal(event: str, data: Any, channel: str | None = None) -> str:
    frame: dict[str, Any] = {"event": event, "data": encode(data)}
    if channel is not None:
        frame["channel"] = channel
    return encode(frame)


def connection_established(socket_id: str, activity_timeout_s: int) -> str:
    return _internal(
        "pusher:connection_established",
        {"socket_id": socket_id, "activity_timeout": activity_timeout_s},
    )


def error(message: str, code: int | None = None) -> str:
    return _internal("pusher:error", {"message": message, "code": code})


def ping() -> str:
    return _internal("pusher:ping", {})


def pong() -> str:
    return _internal("pusher:pong", {})


def subscription_succeeded(channel: str, presence: dict[str, Any] | None = None) -> str:
    """``presence`` is the member hash (user_id -> user_info) for presence channels."""
    if presence is None:
        return _internal("pusher_internal:subscription_succeeded", {}, channel)
    data = {"presence": {"ids": list(presence), "hash": presence, "count": len(presence)}}
    return _internal("pusher_internal:subscription_succeeded", data, channel)


def signin_success(user_data: str) -> str:
    return _internal("pusher:signin_success", {"user_data": user_data})


def subscription_error(channel: str, kind: str, message: str, status: int) -> str:
    return _internal(
        "pusher:subscription_error", {"type": kind, "error": message, "status": status}, channel
    )


def member_added(channel: str, user_id: str, user_info: Any) -> str:
    return _internal(
        "pusher_internal:member_added", {"user_id": user_id, "user_info": user_info}, channel
    )


def member_removed(channel: str, user_id: str) -> str:
    return _internal("pusher_internal:member_removed", {"user_id": user_id}, channel)


def channel_event(channel: str, event: str, data: Any, user_id: str | None = None) -> str:
    """An application event (HTTP API or client event); ``data`` is forwarded as given."""
    frame: dict[str, Any] = {"event": event, "channel": channel, "data": data}
    if user_id is not None:
        frame["user_id"] = user_id
    return encode(frame)


def data_size(data: Any) -> int:
    """Bytes ``data`` takes on the wire (strings count as their UTF-8 text)."""
    text = data if isinstance(data, str) else encode(data)
    return len(text.encode())
