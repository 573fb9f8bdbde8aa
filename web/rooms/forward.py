"""Every node accepts a room's requests; those for a room owned elsewhere go to its owner.

The middleware picks out the room's routes (relay offer and leave, the notes and media
websockets, and the session update that can rewrite the notes), finds the owner through the
leases and, when it is another node, forwards the request over the internal hop: plain HTTP
re-sent with the user's own credentials and a signed hop header, the websocket proxied frame
by frame. Only a node's own requests reach its handlers, so the relay manager and the notes
service never know a cluster exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import structlog
from aiohttp import WSMsgType, hdrs, web

from relay.api import LEAVE_PATH, OFFER_PATH
from web import keys
from web.auth import current_user
from web.notes import MAX_MESSAGE_BYTES
from web.rooms import hop
from web.rooms.lease import Owner, RoomLeases, RoomsUnavailable
from web.wsmedia import MEDIA_PATH
from web.wsmedia.protocol import MAX_FRAME_BYTES as MAX_MEDIA_FRAME_BYTES

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NOTES_PATH = "/ws/notes/{sessionId}"
SESSION_PATH = "/api/mentoring/sessions/{sessionId}"

MAX_PROXIED_FRAME_BYTES = max(MAX_MESSAGE_BYTES, MAX_MEDIA_FRAME_BYTES)
"""The largest frame a proxied room socket (notes or media) carries; each owner checks its own."""
CLOSE_TRY_AGAIN = 1013
"""Websocket close code when the room's owner cannot be reached yet (the client reconnects)."""
CLOSE_SERVICE_RESTART = 1012
"""Websocket close code when the owner went away mid-session (the client reconnects)."""

_FORWARDED_HEADERS = (
    hdrs.COOKIE,
    hdrs.AUTHORIZATION,
    hdrs.CONTENT_TYPE,
    hdrs.ORIGIN,
    hdrs.USER_AGENT,
    hdrs.ACCEPT,
    "Sec-Fetch-Site",
    "X-Request-Id",
    hdrs.X_FORWARDED_FOR,
    hdrs.X_FORWARDED_PROTO,
)
_ANSWER_HEADERS = (hdrs.CONTENT_TYPE, hdrs.RETRY_AFTER)


@dataclass(frozen=True)
class RoomRoute:
    """A route of a session's room: where its session id is and whether it opens the room."""

    id_field: str
    claims: bool
    websocket: bool = False


ROOM_ROUTES: dict[tuple[str, str], RoomRoute] = {
    ("POST", OFFER_PATH): RoomRoute("session_id", claims=True),
    ("POST", LEAVE_PATH): RoomRoute("session_id", claims=False),
    ("GET", NOTES_PATH): RoomRoute("sessionId", claims=True, websocket=True),
    # Both media sockets of a session must meet on one node: the chunks go from one to the other.
    ("GET", MEDIA_PATH): RoomRoute("sessionId", claims=True, websocket=True),
    ("PATCH", SESSION_PATH): RoomRoute("sessionId", claims=False),
}


class RoomRouter:
    """The leases, the client for the internal hop and this node's view of relay calls."""

    def __init__(self, leases: RoomLeases, timeout_s: float) -> None:
        self.leases = leases
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._client: aiohttp.ClientSession | None = None
        self._relay_callers: dict[str, set[str]] = {}

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        await self.leases.start()

    async def close(self) -> None:
        await self.leases.close()
        if self._client is not None:
            await self._client.close()

    @property
    def client(self) -> aiohttp.ClientSession:
        assert self._client is not None, "RoomRouter.start() was not called"
        return self._client

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        return self._timeout

    def relay_joined(self, session_id: str, participant: str) -> None:
        self._relay_callers.setdefault(session_id, set()).add(participant)

    def relay_callers(self, session_id: str) -> set[str]:
        return self._relay_callers.get(session_id, set())

    def forget(self, session_id: str) -> None:
        self._relay_callers.pop(session_id, None)


def _room_route(request: web.Request) -> tuple[str, RoomRoute] | None:
    info = request.match_info
    resource = info.route.resource
    if resource is None:
        return None
    route = ROOM_ROUTES.get((request.method, resource.canonical))
    if route is None:
        return None
    session_id = info.get(route.id_field, "")[:200]
    return (session_id, route) if session_id else None


def _error(status: int, message: str, code: str, retry_after: int | None = None) -> web.Response:
    headers = {hdrs.RETRY_AFTER: str(retry_after)} if retry_after is not None else None
    return web.json_response({"error": message, "code": code}, status=status, headers=headers)


@web.middleware
async def forward_rooms(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve a room's request here when this node owns the room, else forward it."""
    found = _room_route(request)
    router = request.app.get(keys.ROOMS)
    if found is None or router is None:
        return await handler(request)
    session_id, route = found
    header = request.headers.get(hop.HOP_HEADER)
    if header is not None:
        return await _serve_forwarded(request, handler, router, session_id, header, route)
    if not await _may_enter(request, session_id):
        return await handler(request)  # refused there, in the route's own words
    for attempt in range(2):
        try:
            owner = await router.leases.resolve(session_id, claim=route.claims)
        except RoomsUnavailable as exc:
            return await _unavailable(request, route, str(exc))
        if owner is None or owner.url == router.leases.self_url:
            return await _serve_here(request, handler, router, session_id, route)
        if route.websocket:
            return await _proxy_socket(request, router, session_id, owner)
        response = await _forward_http(request, router, session_id, owner)
        if response.status != 421:
            return response
        await asyncio.sleep(0.2 * (attempt + 1))  # the owner just lost the room: ask again
    # The 421 is between nodes; the browser gets the retryable answer of a moving room.
    return _error(
        503, "the session's room is moving to another server", "room_unavailable", retry_after=2
    )


async def _may_enter(request: web.Request, session_id: str) -> bool:
    """Only a participant's request may claim or reach a room; anyone else is answered by the
    local handler (401, 403, 404), so nobody else can create or move a session's room."""
    email = await current_user(request)
    if email is None:
        return False
    session = await request.app[keys.STORE].get_session(session_id)
    return session is not None and session.has_participant(email)


async def _serve_here(
    request: web.Request, handler: Handler, router: RoomRouter, session_id: str, route: RoomRoute
) -> web.StreamResponse:
    router.leases.touch(session_id)
    response = await handler(request)
    if route.claims and not route.websocket and response.status == 200:
        email = await current_user(request)
        if email is not None:
            router.relay_joined(session_id, email)
    return response


async def _serve_forwarded(
    request: web.Request,
    handler: Handler,
    router: RoomRouter,
    session_id: str,
    header: str,
    route: RoomRoute,
) -> web.StreamResponse:
    """A request another node forwarded here: served only while this node holds that lease."""
    fence = hop.verify(request.app[keys.SECRETS].auth_secret, header, session_id)
    if fence is None:
        log.warning("rooms.bad_hop", session_id=session_id)
        return _error(403, "invalid internal hop", "bad_hop")
    if not router.leases.holds(session_id, fence):
        return _error(421, "this node no longer holds the session's room", "room_moved")
    return await _serve_here(request, handler, router, session_id, route)


async def _unavailable(request: web.Request, route: RoomRoute, reason: str) -> web.StreamResponse:
    message = f"the session's room cannot be reached right now ({reason})"
    if not route.websocket:
        return _error(503, message, "room_unavailable", retry_after=2)
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        return _error(400, "Expected a websocket upgrade", "not_websocket")
    await ws.prepare(request)
    await ws.close(code=CLOSE_TRY_AGAIN, message=b"the session's room is moving")
    return ws


def _hop_headers(
    request: web.Request, router: RoomRouter, session_id: str, owner: Owner
) -> dict[str, str]:
    headers = {
        name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers
    }
    # The original Host, so the owner judges Origin against the address the browser used.
    headers[hdrs.HOST] = request.host
    # This node is a proxy too: the owner finds the client by X-Forwarded-For when the nodes'
    # addresses are among its http.trusted_proxies.
    if request.remote:
        earlier = request.headers.get(hdrs.X_FORWARDED_FOR)
        headers[hdrs.X_FORWARDED_FOR] = (
            f"{earlier}, {request.remote}" if earlier else request.remote
        )
    secret = request.app[keys.SECRETS].auth_secret
    headers[hop.HOP_HEADER] = hop.sign(secret, session_id, owner.fence)
    return headers


async def _forward_http(
    request: web.Request, router: RoomRouter, session_id: str, owner: Owner
) -> web.Response:
    body = await request.read()
    url = owner.url + request.rel_url.path_qs
    headers = _hop_headers(request, router, session_id, owner)
    try:
        async with router.client.request(
            request.method,
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=router.timeout,
        ) as answer:
            payload = await answer.read()
            kept = {
                name: answer.headers[name] for name in _ANSWER_HEADERS if name in answer.headers
            }
            return web.Response(status=answer.status, body=payload, headers=kept)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "rooms.owner_unreachable",
            session_id=session_id,
            owner=owner.url,
            error=type(exc).__name__,
        )
        return _error(
            503,
            "the server holding this session's room does not answer; try again in a few seconds",
            "room_unavailable",
            retry_after=2,
        )


async def _proxy_socket(
    request: web.Request, router: RoomRouter, session_id: str, owner: Owner
) -> web.StreamResponse:
    """Relay a websocket to the owner, frame by frame, in both directions."""
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_PROXIED_FRAME_BYTES)
    if not ws.can_prepare(request).ok:
        return _error(400, "Expected a websocket upgrade", "not_websocket")
    await ws.prepare(request)
    request.app[keys.WEBSOCKETS].add(ws)
    url = owner.url.replace("http", "ws", 1) + request.rel_url.path_qs
    try:
        upstream = await router.client.ws_connect(
            url,
            headers=_hop_headers(request, router, session_id, owner),
            heartbeat=30.0,
            max_msg_size=MAX_PROXIED_FRAME_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("rooms.owner_unreachable", session_id=session_id, error=type(exc).__name__)
        await ws.close(code=CLOSE_TRY_AGAIN, message=b"the session's room is moving")
        return ws
    async with upstream:
        to_owner = asyncio.create_task(_pump(ws, upstream))
        to_client = asyncio.create_task(_pump(upstream, ws))
        _done, pending = await asyncio.wait(
            {to_owner, to_client}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    code = upstream.close_code
    if not ws.closed:
        if code is None or code == 1006:
            code, reason = CLOSE_SERVICE_RESTART, b"the session's room moved"
        else:
            reason = b""
        await ws.close(code=code, message=reason)
    return ws


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    try:
        async for message in source:
            if message.type is WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type is WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                break
    except (ConnectionError, RuntimeError):
        return  # the other side closed while a frame was on its way
