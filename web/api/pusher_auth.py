"""POST /api/pusher/auth: sign channel subscriptions for a session's two participants.

pusher-js posts ``socket_id`` and ``channel_name`` form-encoded. Only the session channels
are signed: ``private-session-{id}`` (WebRTC signaling) and ``presence-session-{id}``
(chat and who is in the room); anything else is refused.
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from signaling.auth import sign_channel
from store.validation import ValidationError, check_fields, is_session_id
from web import keys
from web.api.errors import ApiError, forbidden
from web.api.jsonio import read_json_object
from web.auth import require_user

_SOCKET_ID_RE = re.compile(r"\d{1,20}\.\d{1,20}")
_CHANNEL_RE = re.compile(r"(private|presence)-session-(.{1,64})")


async def _form(request: web.Request) -> dict[str, str]:
    """The two fields, form-encoded as pusher-js sends them, or as a JSON object."""
    items: list[tuple[str, object]]
    if request.content_type == "application/json":
        items = list((await read_json_object(request)).items())
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        items = list((await request.post()).items())
    else:
        raise ApiError(400, "Expected a form-encoded or JSON body", "socket_id")
    fields: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str):
            raise ValidationError(key, "Expected a text field")
        if key in fields:
            raise ValidationError(key, "Given more than once")
        fields[key] = value
    check_fields(fields, ("socket_id", "channel_name"), required=("socket_id", "channel_name"))
    return fields


async def pusher_auth(request: web.Request) -> web.Response:
    email = await require_user(request)
    fields = await _form(request)
    socket_id = fields["socket_id"]
    if not _SOCKET_ID_RE.fullmatch(socket_id):
        raise ValidationError("socket_id", "Malformed socket id")
    channel = fields["channel_name"]
    match = _CHANNEL_RE.fullmatch(channel)
    if match is None or not is_session_id(match.group(2)):
        raise forbidden()
    store = request.app[keys.STORE]
    session = await store.get_session(match.group(2))
    if session is None or not session.has_participant(email):
        raise forbidden()
    app = request.app
    key = app[keys.SETTINGS].pusher.key
    secret = app[keys.SECRETS].pusher_secret.reveal()
    if match.group(1) == "private":
        return web.json_response({"auth": sign_channel(key, secret, socket_id, channel)})
    profile = await store.get_profile(email)
    role = "mentor" if email == session.mentor_email else "mentee"
    channel_data = json.dumps(
        {"user_id": email, "user_info": {"name": profile.name if profile else "", "role": role}},
        separators=(",", ":"),
    )
    auth = sign_channel(key, secret, socket_id, channel, channel_data)
    return web.json_response({"auth": auth, "channel_data": channel_data})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/pusher/auth", pusher_auth)
