"""GET and PATCH /api/mentoring/profile: the signed-in user's own profile."""

from __future__ import annotations

from aiohttp import web

from store.models import utcnow
from store.validation import apply_profile_patch, name_from_email
from web import keys
from web.api.jsonio import read_json_object
from web.auth import require_user
from web.serialize import profile_json


async def get_profile(request: web.Request) -> web.Response:
    email = await require_user(request)
    profile = await request.app[keys.STORE].ensure_profile(email, name_from_email(email))
    return web.json_response({"profile": profile_json(profile)})


async def patch_profile(request: web.Request) -> web.Response:
    email = await require_user(request)
    body = await read_json_object(request)
    store = request.app[keys.STORE]
    current = await store.ensure_profile(email, name_from_email(email))
    updated = apply_profile_patch(current, body, utcnow())
    saved = await store.save_profile(updated)
    return web.json_response({"profile": profile_json(saved)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mentoring/profile", get_profile)
    app.router.add_patch("/api/mentoring/profile", patch_profile)
