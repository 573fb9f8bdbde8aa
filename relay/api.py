"""HTTP surface of the relay: POST an offer, get the answer; leave.

The web layer mounts these routes and injects ``authorize(request, session_id)``, which
returns the signed-in participant's id or raises ``web.HTTPUnauthorized``/``HTTPForbidden``
(it alone knows users and sessions). Leaving may be checked by a laxer ``authorize_leave``
(for instance one that still lets a participant hang up once the session's time is over).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from relay.errors import BadOffer, RelayFull, RelayUnavailable, SessionBusy
from relay.manager import MAX_OFFER_BYTES
from relay.service import RelayService

log = structlog.get_logger(__name__)

Authorize = Callable[[web.Request, str], Awaitable[str]]
ManagerOf = Callable[[web.Request], RelayService]
"""Finds the node's manager for a request. A getter rather than the manager itself, because the
routes are mounted before start-up, while the manager is built by a cleanup context."""

OFFER_PATH = "/api/relay/sessions/{session_id}/offer"
LEAVE_PATH = "/api/relay/sessions/{session_id}/leave"


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status)


MAX_BODY_BYTES = 2 * MAX_OFFER_BYTES
"""The largest offer request read: the SDP limit with room for JSON escaping."""


def _too_large(what: str) -> web.Response:
    return _error(413, f"{what} is too large (at most {MAX_OFFER_BYTES} bytes of SDP)", "sdp")


async def _read_json(request: web.Request) -> dict[str, Any] | web.Response:
    """The offer body as an object, or the error answer: 413 when too large, 400 when not JSON
    (however deeply nested), never an exception."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _too_large("the request body")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # chunked, past the server's own limit
        return _too_large("the request body")
    if len(raw) > MAX_BODY_BYTES:
        return _too_large("the request body")
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        log.warning("relay.bad_offer_body", bytes=len(raw))
        return _error(400, "the request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object")
    return body


def _unavailable(reason: str) -> web.Response:
    """The relay is disabled (see RelayManager.start); the rest of the server still serves."""
    return web.json_response({"error": reason, "code": "relay_unavailable"}, status=503)


def make_relay_routes(
    manager_of: RelayService | ManagerOf,
    authorize: Authorize,
    authorize_leave: Authorize | None = None,
) -> list[web.RouteDef]:
    """Route definitions for ``app.router.add_routes``, on a manager or a getter for one.
    ``authorize`` guards offers, ``authorize_leave`` (default: ``authorize``) leaving."""
    may_leave = authorize_leave or authorize

    def _manager(request: web.Request) -> RelayService:
        return manager_of if isinstance(manager_of, RelayService) else manager_of(request)

    async def offer(request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        participant_id = await authorize(request, session_id)
        manager = _manager(request)
        # No early refusal on ``unavailable_reason``: that also says "no worker runs right
        # now", and a worker pool's answer waits a few seconds for the one being started.
        # A failed self-check still comes back from answer() as RelayUnavailable (503).
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        sdp = body.get("sdp")
        kind = body.get("type", "offer")
        if not isinstance(sdp, str) or not sdp.strip():
            return _error(400, "an SDP offer is required", "sdp")
        if len(sdp.encode()) > MAX_OFFER_BYTES:
            return _too_large("the SDP offer")
        if kind != "offer":
            return _error(400, 'the description type must be "offer"', "type")
        try:
            answer_sdp, answer_type = await manager.answer(session_id, participant_id, sdp, kind)
        except RelayUnavailable as exc:
            return _unavailable(str(exc))
        except RelayFull as exc:
            return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "30"})
        except SessionBusy as exc:
            return _error(409, str(exc))
        except BadOffer as exc:
            return _error(400, str(exc), "sdp")
        return web.json_response({"sdp": answer_sdp, "type": answer_type})

    async def leave(request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        participant_id = await may_leave(request, session_id)
        left = await _manager(request).leave(session_id, participant_id)
        return web.json_response({"left": left})

    return [web.post(OFFER_PATH, offer), web.post(LEAVE_PATH, leave)]
