"""Who is looking at a page: the signed-in viewer, or a redirect to sign-in."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from store import validation as rules
from web import keys
from web.auth import current_user
from web.pages.rendering import Viewer


async def signed_in_viewer(request: web.Request) -> Viewer:
    """The signed-in viewer; a signed-out visitor is sent to sign-in and brought back."""
    email = await current_user(request)
    if email is None:
        raise web.HTTPFound("/signin?" + urlencode({"next": request.path_qs}))
    store = request.app[keys.STORE]
    profile = await store.get_profile(email)
    if profile is None:
        profile = await store.ensure_profile(email, rules.name_from_email(email))
    return Viewer.from_profile(profile)


async def optional_viewer(request: web.Request) -> Viewer | None:
    email = await current_user(request)
    if email is None:
        return None
    profile = await request.app[keys.STORE].get_profile(email)
    if profile is None:
        return None
    return Viewer.from_profile(profile)
