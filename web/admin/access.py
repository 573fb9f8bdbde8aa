"""Who may use the operator console: the signed-in people listed in ``admin.emails``.

Everyone else gets 403 on every /admin page and /api/admin route; a visitor who is not
signed in gets 401. One check, used by the pages and the API alike.
"""

from __future__ import annotations

from aiohttp import web

from config.settings import Settings
from web import keys
from web.api.errors import ApiError
from web.auth import current_user


def is_operator(settings: Settings, email: str) -> bool:
    return email.lower() in {address.lower() for address in settings.admin.emails}


async def require_operator(request: web.Request) -> str:
    """The operator's e-mail; ApiError 401 when not signed in, 403 when not an operator."""
    email = await current_user(request)
    if email is None:
        raise ApiError(401, "Not signed in")
    if not is_operator(request.app[keys.SETTINGS], email):
        raise ApiError(403, "Only operators (admin.emails) may use the console")
    return email
