"""GET /api/mentoring/sessions/{sessionId}/chat: the session's chat history, oldest first."""

from __future__ import annotations

from aiohttp import web

from web import keys
from web.api import response_models as out
from web.api.jsonio import answer
from web.api.spec import NOT_SIGNED_IN, SESSION_ID, Operation, Reply, Route, error
from web.auth import require_user
from web.serialize import chat_message_out
from web.services.sessions import session_of_participant


async def chat_history(request: web.Request) -> web.Response:
    email = await require_user(request)
    session = await session_of_participant(request, request.match_info["sessionId"], email)
    messages = await request.app[keys.STORE].list_chat(session.session_id)
    return answer(out.ChatHistory(messages=[chat_message_out(m) for m in messages]))


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/mentoring/sessions/{sessionId}/chat",
            "Chat history of a session, oldest first (participants only)",
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "Messages", out.ChatHistory),
                error(403, "Not a participant"),
                error(404, "Unknown session (field sessionId)"),
                NOT_SIGNED_IN,
            ),
        ),
        chat_history,
    ),
)
