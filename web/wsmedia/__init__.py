"""Media over the server's websocket, for networks where no UDP path exists and no TURN is set.

``setup_wsmedia(app)`` registers ``GET /ws/media/{sessionId}``: the room page sends its camera
and microphone as WebCodecs chunks (web/static/js/room/ws_media.js) and receives the other
participant's the same way. The :class:`~web.wsmedia.rooms.MediaRooms` it uses is built by the
composition root and read from ``app[keys.WSMEDIA]``. Wire format and close codes:
:mod:`web.wsmedia.protocol`.

Only the session's mentor and mentee may open its media socket, while its room is open; the
refusals are close codes after the upgrade (as for the notes socket), because a browser's
websocket cannot read an HTTP status. A plain HTTP request gets 400. A frame larger than any
chunk may be is refused by aiohttp itself (close code 1009).
"""

from __future__ import annotations

import structlog
from aiohttp import WSMsgType, web

from store.models import utcnow
from web import keys
from web.auth import current_user, is_cross_site
from web.services import join_window
from web.wsmedia.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    MAX_FRAME_BYTES,
    FrameError,
    parse_chunk,
    parse_control,
)
from web.wsmedia.rooms import MediaRooms

log = structlog.get_logger(__name__)

__all__ = ["MediaRooms", "media_socket", "setup_wsmedia"]


MEDIA_PATH = "/ws/media/{sessionId}"
"""The media socket of a session (in a cluster, served by the node owning its room)."""


def setup_wsmedia(app: web.Application) -> None:
    app.router.add_get(MEDIA_PATH, media_socket, name="media-socket")


async def _refusal(request: web.Request, session_id: str) -> tuple[int, str, str]:
    """(close code, reason, "") when the request may not open the socket, else (0, "", email)."""
    if is_cross_site(request):
        return CLOSE_FORBIDDEN, "Cross-site request refused", ""
    email = await current_user(request)
    if email is None:
        return CLOSE_UNAUTHORIZED, "Unauthorized", ""
    session = await request.app[keys.STORE].get_session(session_id) if session_id else None
    if session is None:
        return CLOSE_NOT_FOUND, "Session not found", ""
    if not session.has_participant(email):
        return CLOSE_FORBIDDEN, "Access denied", ""
    lead = request.app[keys.SETTINGS].room.join_lead_minutes
    closed = join_window.refusal_reason(join_window.join_window(session, utcnow(), lead))
    if closed is not None:
        return CLOSE_FORBIDDEN, closed, ""
    return 0, "", email


async def media_socket(request: web.Request) -> web.StreamResponse:
    session_id = request.match_info["sessionId"][:200]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
    if not ws.can_prepare(request).ok:
        return web.json_response({"error": "Expected a websocket upgrade"}, status=400)
    code, reason, email = await _refusal(request, session_id)
    await ws.prepare(request)
    request.app[keys.WEBSOCKETS].add(ws)
    if code:
        log.info("wsmedia.refused", session_id=session_id, code=code, reason=reason)
        await ws.close(code=code, message=reason.encode())
        return ws
    media = request.app[keys.WSMEDIA]
    peer = media.open(session_id, email, ws)
    log.info("wsmedia.opened", session_id=session_id)
    try:
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                frame = bytes(message.data)
                chunk = parse_chunk(frame)
                peer.admit_chunk(chunk)
                media.forward_chunk(session_id, peer, chunk.kind, frame)
            elif message.type is WSMsgType.TEXT:
                peer.admit_control()
                parse_control(message.data)  # checked, then forwarded as it came
                media.forward_text(session_id, peer, message.data)
            elif message.type is WSMsgType.ERROR:
                break
    except FrameError as exc:
        log.info(
            "wsmedia.closed_bad_frame", session_id=session_id, code=exc.code, reason=exc.reason
        )
        await ws.close(code=exc.code, message=exc.reason.encode()[:120])
    finally:
        await media.close(session_id, peer)
        log.info("wsmedia.closed", session_id=session_id)
    if not ws.closed:
        await ws.close()
    return ws
