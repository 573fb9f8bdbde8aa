"""Who may use the operator console: the signed-in people listed in ``admin.emails``.

Everyone else gets 403 on every /admin page and /api/admin route; a visitor who is not
signed in gets 401. The pages (``web.admin.pages``) and the API (``web.api.admin``) both
decide with :func:`is_operator`.
"""

from __future__ import annotations

from config.settings import Settings


def is_operator(settings: Settings, email: str) -> bool:
    return email.lower() in {address.lower() for address in settings.admin.emails}
