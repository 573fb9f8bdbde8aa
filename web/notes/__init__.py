"""Collaborative session notes: Yjs in the browser, pycrdt on the server.

``setup_notes(app)`` registers ``GET /ws/notes/{sessionId}`` (the y-websocket sync protocol).
The :class:`~web.notes.service.NotesService` it serves is built by the composition root
(``panamia/app.py``) in a cleanup context after the store's, so the rooms are flushed before
the store closes, and read here from ``app[keys.NOTES]``.

The socket is for the session's mentor and mentee only. Refusals happen after the upgrade,
with a close code in the 4400 range that y-websocket treats as final (it stops reconnecting):
4401 not signed in, 4403 not a participant (or a cross-site page, or the session's room is
not open: too early, ended or cancelled, see web/services/join_window.py), 4404 unknown
session.
A plain HTTP request gets 400.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from store.base import NotFound
from store.models import Session, utcnow
from web import keys
from web.auth import current_user, is_cross_site
from web.keys import NOTES
from web.services import join_window as rooms  # a module: web.api loads while it does

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024
"""Largest single Yjs message accepted from a browser (the notes hold at most 5000
characters; a full sync of a long-edited document stays far below this)."""

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


__all__ = ["NOTES", "notes_socket", "set_notes_text", "setup_notes"]


def setup_notes(app: web.Application) -> None:
    app.router.add_get("/ws/notes/{sessionId}", notes_socket, name="notes-socket")


async def set_notes_text(app: web.Application, session_id: str, text: str) -> Session:
    """Set a session's notes through its live document (the REST API's ``update_notes``).
    Raises store.base.NotFound for an unknown session."""
    return await app[NOTES].set_notes_text(session_id, text)


async def _refusal(request: web.Request, session_id: str) -> tuple[int, str] | None:
    """Why this request may not open the session's notes, or None when it may."""
    if is_cross_site(request):
        return CLOSE_FORBIDDEN, "Cross-site request refused"
    email = await current_user(request)
    if email is None:
        return CLOSE_UNAUTHORIZED, "Unauthorized"
    session = await request.app[keys.STORE].get_session(session_id) if session_id else None
    if session is None:
        return CLOSE_NOT_FOUND, "Session not found"
    if not session.has_participant(email):
        return CLOSE_FORBIDDEN, "Access denied"
    lead = request.app[keys.SETTINGS].room.join_lead_minutes
    closed = rooms.refusal_reason(rooms.join_window(session, utcnow(), lead))
    if closed is not None:
        return CLOSE_FORBIDDEN, closed
    return None


async def notes_socket(request: web.Request) -> web.StreamResponse:
    session_id = request.match_info["sessionId"][:200]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE_BYTES)
    if not ws.can_prepare(request).ok:
        return web.json_response({"error": "Expected a websocket upgrade"}, status=400)
    refusal = await _refusal(request, session_id)
    await ws.prepare(request)
    request.app[keys.WEBSOCKETS].add(ws)
    if refusal is not None:
        code, reason = refusal
        log.info("notes.refused", session_id=session_id, code=code, reason=reason)
        await ws.close(code=code, message=reason.encode())
        return ws
    try:
        await request.app[NOTES].serve(session_id, ws, request.path)
    except NotFound:
        await ws.close(code=CLOSE_NOT_FOUND, message=b"Session not found")
    if not ws.closed:
        await ws.close()
    return ws
