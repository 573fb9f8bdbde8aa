"""GET and PATCH /api/mentoring/profile: the signed-in user's own profile."""

from __future__ import annotations

import msgspec
from aiohttp import web

from store.models import utcnow
from store.validation import apply_profile_patch, name_from_email
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer, read_body
from web.api.limits import require_writer
from web.api.request_models import ProfilePatch
from web.api.spec import NOT_SIGNED_IN, TOO_MANY_WRITES, Operation, Reply, Route, error
from web.auth import require_user
from web.serialize import profile_out


async def get_profile(request: web.Request) -> web.Response:
    email = await require_user(request)
    profile = await request.app[keys.STORE].ensure_profile(email, name_from_email(email))
    return answer(out.ProfileAnswer(profile=profile_out(profile)))


async def patch_profile(request: web.Request) -> web.Response:
    email = await require_writer(request)
    patch = await read_body(request, ProfilePatch)
    store = request.app[keys.STORE]
    current = await store.ensure_profile(email, name_from_email(email))
    # Only the fields sent (UNSET ones are dropped), under their API names.
    updated = apply_profile_patch(current, msgspec.to_builtins(patch), utcnow())
    saved = await store.save_profile(updated)
    return answer(out.ProfileAnswer(profile=profile_out(saved)))


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/mentoring/profile",
            "Your profile",
            replies=(Reply(200, "Profile", out.ProfileAnswer), NOT_SIGNED_IN),
        ),
        get_profile,
    ),
    Route(
        Operation(
            "PATCH",
            "/api/mentoring/profile",
            "Update your profile",
            body=ProfilePatch,
            replies=(
                Reply(200, "Updated profile", out.ProfileAnswer),
                error(400, "A rule was broken; field names the input"),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        patch_profile,
    ),
)
