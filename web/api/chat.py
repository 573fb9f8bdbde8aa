"""GET /api/mentoring/sessions/{sessionId}/chat: the session's chat history, oldest first."""

from __future__ import annotations

from aiohttp import web

from web import keys
from web.api.sessions import participant_session
from web.auth import require_user
from web.serialize import chat_message_json


async def chat_history(request: web.Request) -> web.Response:
    email = await require_user(request)
    session = await participant_session(request, email)
    messages = await request.app[keys.STORE].list_chat(session.session_id)
    return web.json_response({"messages": [chat_message_json(m) for m in messages]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mentoring/sessions/{sessionId}/chat", chat_history)
