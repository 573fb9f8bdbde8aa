"""POST /api/pusher/auth: sign channel subscriptions for a session's two participants.

pusher-js posts ``socket_id`` and ``channel_name`` form-encoded. Only the session channels
are signed: ``private-session-{id}`` (WebRTC signaling) and ``presence-session-{id}``
(chat and who is in the room); anything else is refused. A participant is only signed while
the session's room is open (see web/services/join_window.py): too early, after the end or
after a cancellation the answer is 403 with the reason.
"""

from __future__ import annotations

import json
import re

import structlog
from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from signaling.auth import sign_channel
from store.models import utcnow
from store.validation import ValidationError
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError, forbidden
from web.api.jsonio import answer, read_body
from web.api.request_models import PusherAuth
from web.api.spec import NOT_SIGNED_IN, Operation, Reply, Route, error
from web.auth import require_user
from web.params import is_session_id
from web.services import join_window  # a module: web.api loads while it does

log = structlog.get_logger(__name__)

_SOCKET_ID_RE = re.compile(r"\d{1,20}\.\d{1,20}")
_CHANNEL_RE = re.compile(r"(private|presence)-session-(.{1,64})")


async def _form(request: web.Request) -> PusherAuth:
    """The two fields, form-encoded as pusher-js sends them, or as a JSON object."""
    if request.content_type == "application/json":
        return await read_body(request, PusherAuth)
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ApiError(400, "Expected a form-encoded or JSON body", "socket_id")
    fields: dict[str, str] = {}
    for key, value in (await _posted(request)).items():
        if not isinstance(value, str):
            raise ValidationError(key, "Expected a text field")
        if key in fields:
            raise ValidationError(key, "Given more than once")
        fields[key] = value
    for key in fields:
        if key not in ("socket_id", "channel_name"):
            raise ValidationError(key, "Unknown field")
    for key in ("socket_id", "channel_name"):
        if key not in fields:
            raise ValidationError(key, "This field is required")
    return PusherAuth(socket_id=fields["socket_id"], channel_name=fields["channel_name"])


async def _posted(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """aiohttp's parse of the form, with whatever it cannot parse as a 400.

    A multipart body without a boundary, a part without a name, a truncated or garbled body, an
    unknown charset or bytes that are not in it make aiohttp raise a ValueError, a LookupError or
    a UnicodeDecodeError (one of those); they are the sender's mistake, so a warning, not an
    error, goes to the log."""
    try:
        return await request.post()
    except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
        log.warning("pusher_auth.bad_form", content_type=request.content_type, problem=str(exc))
        raise ApiError(400, "Malformed form body", "socket_id") from None


async def pusher_auth(request: web.Request) -> web.Response:
    email = await require_user(request)
    fields = await _form(request)
    socket_id = fields.socket_id
    if not _SOCKET_ID_RE.fullmatch(socket_id):
        raise ValidationError("socket_id", "Malformed socket id")
    channel = fields.channel_name
    match = _CHANNEL_RE.fullmatch(channel)
    if match is None or not is_session_id(match.group(2)):
        raise forbidden()
    store = request.app[keys.STORE]
    session = await store.get_session(match.group(2))
    if session is None or not session.has_participant(email):
        raise forbidden()
    app = request.app
    join_window.require_open(session, utcnow(), app[keys.SETTINGS].room.join_lead_minutes)
    key = app[keys.SETTINGS].pusher.key
    secret = app[keys.SECRETS].pusher_secret.reveal()
    if match.group(1) == "private":
        return answer(out.PusherAuthAnswer(auth=sign_channel(key, secret, socket_id, channel)))
    profile = await store.get_profile(email)
    role = "mentor" if email == session.mentor_email else "mentee"
    channel_data = json.dumps(
        {"user_id": email, "user_info": {"name": profile.name if profile else "", "role": role}},
        separators=(",", ":"),
    )
    auth = sign_channel(key, secret, socket_id, channel, channel_data)
    return answer(out.PusherAuthAnswer(auth=auth, channel_data=channel_data))


ROUTES = (
    Route(
        Operation(
            "POST",
            "/api/pusher/auth",
            "Sign a subscription to private-session-{id} or presence-session-{id}",
            body=PusherAuth,
            form_body=True,
            replies=(
                Reply(200, "The channel signature (and presence data)", out.PusherAuthAnswer),
                error(400, "Malformed form"),
                error(
                    403,
                    "Not a participant, unknown session, other channel, or the room is not "
                    "open (not yet, ended or cancelled; the error says which)",
                ),
                NOT_SIGNED_IN,
            ),
        ),
        pusher_auth,
    ),
)
