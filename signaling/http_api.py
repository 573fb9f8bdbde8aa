"""Pusher's HTTP API, signed like Pusher's, so the official server SDKs work unchanged.

- ``POST /apps/{app_id}/events``        ``{name, data, channels|channel, socket_id?, info?}``
- ``POST /apps/{app_id}/batch_events``  ``{batch: [{name, data, channel, socket_id?, info?}]}``
- ``GET  /apps/{app_id}/channels``      ``?filter_by_prefix=&info=user_count,subscription_count``
- ``GET  /apps/{app_id}/channels/{name}``  ``?info=user_count,subscription_count``
- ``GET  /apps/{app_id}/channels/{name}/users``

Limits are Pusher's: 10 KB of data per event, 100 channels per event, 10 events per batch.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from signaling import protocol as p
from signaling.auth import RequestAuthError
from signaling.hub import Hub

MAX_EVENT_DATA = 10 * 1024
MAX_CHANNELS_PER_EVENT = 100
MAX_BATCH = 10
MAX_BODY = 256 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(exc: ApiError) -> web.Response:
    body: dict[str, str] = {"error": exc.message}
    if exc.field:
        body["field"] = exc.field
    return web.json_response(body, status=exc.status)


async def authenticate(request: web.Request, hub: Hub) -> bytes:
    """Check app id and signature; return the body."""
    if request.match_info.get("app_id") != hub.settings.app_id:
        raise ApiError(404, "Unknown app id", "app_id")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "Request body too large")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:  # chunked, and past the server's own limit
        raise ApiError(413, "Request body too large") from None
    if len(body) > MAX_BODY:
        raise ApiError(413, "Request body too large")
    params: dict[str, str] = {}
    for key, value in request.query.items():
        if key.lower() in params:
            raise ApiError(400, f"Query parameter {key} given more than once", key)
        params[key.lower()] = value
    try:
        hub.verify_api_request(request.method, request.path, params, body)
    except RequestAuthError as exc:
        raise ApiError(exc.status, exc.message, exc.field) from None
    return body


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "Body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "Body must be a JSON object")
    return parsed


def _info_attributes(raw: object) -> set[str]:
    if raw is None:
        return set()
    if not isinstance(raw, str):
        raise ApiError(400, "info must be a comma-separated string", "info")
    attributes = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = attributes - {"user_count", "subscription_count"}
    if unknown:
        raise ApiError(400, f"Unknown info attribute: {sorted(unknown)[0]}", "info")
    return attributes


class _Event:
    __slots__ = ("channels", "data", "info", "name", "socket_id")

    def __init__(self, raw: dict[str, Any], single_channel: bool) -> None:
        name = raw.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= p.MAX_EVENT_NAME:
            raise ApiError(400, "name must be a string of 1 to 200 characters", "name")
        data = raw.get("data")
        if data is None:
            raise ApiError(400, "data is required", "data")
        if not isinstance(data, str):
            data = p.encode(data)
        if len(data.encode()) > MAX_EVENT_DATA:
            raise ApiError(413, f"data is larger than {MAX_EVENT_DATA} bytes", "data")
        if single_channel:
            channels: object = [raw.get("channel")]
        else:
            channels = raw.get("channels")
            if channels is None and "channel" in raw:
                channels = [raw.get("channel")]
        if not isinstance(channels, list) or not channels:
            raise ApiError(400, "channels must be a non-empty list", "channels")
        if len(channels) > MAX_CHANNELS_PER_EVENT:
            raise ApiError(400, f"At most {MAX_CHANNELS_PER_EVENT} channels per event", "channels")
        for channel in channels:
            if not p.is_valid_channel_name(channel):
                raise ApiError(400, "Invalid channel name", "channels")
        socket_id = raw.get("socket_id")
        if socket_id is not None and (
            not isinstance(socket_id, str) or not p.SOCKET_ID_RE.fullmatch(socket_id)
        ):
            raise ApiError(400, "Invalid socket_id", "socket_id")
        self.name = name
        self.data = data
        self.channels = [str(c) for c in channels]
        self.socket_id = socket_id
        self.info = _info_attributes(raw.get("info"))


async def _channel_info(hub: Hub, channel: str, attributes: set[str]) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if "user_count" in attributes:
        info["user_count"] = len(await hub.members(channel))
    if "subscription_count" in attributes:
        info["subscription_count"] = (await hub.occupied()).get(channel, 0)
    return info


def _check_user_count(channels: list[str], attributes: set[str]) -> None:
    if "user_count" in attributes and any(
        p.channel_kind(c) is not p.ChannelKind.PRESENCE for c in channels
    ):
        raise ApiError(400, "user_count is only available for presence channels", "info")


async def trigger_event(hub: Hub, body: bytes) -> dict[str, Any]:
    event = _Event(_json_object(body), single_channel=False)
    _check_user_count(event.channels, event.info)
    await hub.trigger(event.channels, event.name, event.data, event.socket_id)
    if not event.info:
        return {}
    return {"channels": {c: await _channel_info(hub, c, event.info) for c in event.channels}}


async def trigger_batch(hub: Hub, body: bytes) -> dict[str, Any]:
    batch = _json_object(body).get("batch")
    if not isinstance(batch, list) or not batch:
        raise ApiError(400, "batch must be a non-empty list", "batch")
    if len(batch) > MAX_BATCH:
        raise ApiError(400, f"At most {MAX_BATCH} events per batch", "batch")
    events = []
    for raw in batch:
        if not isinstance(raw, dict):
            raise ApiError(400, "Each batch entry must be an object", "batch")
        events.append(_Event(raw, single_channel=True))
    for event in events:
        _check_user_count(event.channels, event.info)
    await hub.trigger_many([(e.channels, e.name, e.data, e.socket_id) for e in events])
    if not any(event.info for event in events):
        return {}
    return {"batch": [await _channel_info(hub, e.channels[0], e.info) for e in events]}


async def list_channels(hub: Hub, query: dict[str, str]) -> dict[str, Any]:
    prefix = query.get("filter_by_prefix", "")
    attributes = _info_attributes(query.get("info"))
    if "user_count" in attributes and not prefix.startswith("presence-"):
        raise ApiError(400, "user_count needs filter_by_prefix=presence-", "info")
    channels: dict[str, Any] = {}
    for channel, count in sorted((await hub.occupied()).items()):
        if not channel.startswith(prefix):
            continue
        info: dict[str, Any] = {}
        if "user_count" in attributes:
            info["user_count"] = len(await hub.members(channel))
        if "subscription_count" in attributes:
            info["subscription_count"] = count
        channels[channel] = info
    return {"channels": channels}


async def channel_details(hub: Hub, channel: str, query: dict[str, str]) -> dict[str, Any]:
    if not p.is_valid_channel_name(channel):
        raise ApiError(400, "Invalid channel name", "channel_name")
    attributes = _info_attributes(query.get("info"))
    _check_user_count([channel], attributes)
    count = (await hub.occupied()).get(channel, 0)
    result: dict[str, Any] = {"occupied": count > 0}
    if "user_count" in attributes:
        result["user_count"] = len(await hub.members(channel))
    if "subscription_count" in attributes:
        result["subscription_count"] = count
    return result


async def channel_users(hub: Hub, channel: str) -> dict[str, Any]:
    if not p.is_valid_channel_name(channel):
        raise ApiError(400, "Invalid channel name", "channel_name")
    if p.channel_kind(channel) is not p.ChannelKind.PRESENCE:
        raise ApiError(400, "Users are only available for presence channels", "channel_name")
    return {"users": [{"id": user_id} for user_id in await hub.members(channel)]}
