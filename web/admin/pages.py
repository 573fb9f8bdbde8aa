"""The /admin pages: live sessions, one session's call quality, past sessions, relay and
TURN. Server-rendered like the other pages; the live page swaps in a fresh copy of its live
part every 5 seconds (``web/static/js/admin-live.js``)."""

from __future__ import annotations

from aiohttp import web

from store.validation import ValidationError
from web import keys
from web.admin import views
from web.admin.access import is_operator
from web.admin.charts import line_chart
from web.admin.search import SearchForm, parse_search
from web.auth import current_user
from web.pages.rendering import TEMPLATES, Viewer, render
from web.pages.viewer import optional_viewer
from web.params import is_session_id, query_pairs
from web.quality.sample import POOR_FPS, POOR_LOSS_PCT

PATH_LABELS = {
    "none": "not connected",
    "direct": "direct",
    "turn-udp": "TURN UDP",
    "turn-tcp": "TURN TCP",
    "turn-tls": "TURN TLS",
    "relay": "relay",
}


async def _operator(request: web.Request) -> Viewer | web.Response:
    """The operator looking at the page, or the 401/403 page to answer instead."""
    email = await current_user(request)
    if email is None:
        return _refusal(request, None, 401, "Sign in first", "The console is for operators.")
    viewer = await optional_viewer(request)
    if not is_operator(request.app[keys.SETTINGS], email):
        text = "Only operators listed in the server's admin.emails setting may see the console."
        return _refusal(request, viewer, 403, "Access denied", text)
    return viewer or Viewer(email=email, name=email, avatar_url=None, time_zone="UTC")


def _refusal(
    request: web.Request, viewer: Viewer | None, status: int, title: str, message: str
) -> web.Response:
    return render(
        request,
        "message.html",
        {"viewer": viewer, "title": title, "message": message},
        status=status,
    )


def _common(viewer: Viewer, section: str) -> dict[str, object]:
    return {
        "viewer": viewer,
        "admin_section": section,
        "nav": "admin",
        "path_label": lambda path: PATH_LABELS.get(path, path),
        "chart": line_chart,
        "poor_loss": POOR_LOSS_PCT,
        "poor_fps": POOR_FPS,
    }


async def live_page(request: web.Request) -> web.Response:
    viewer = await _operator(request)
    if isinstance(viewer, web.Response):
        return viewer
    app = request.app
    live = await views.live_sessions(app)
    series = {s.session_id: await app[keys.QUALITY].series(s.session_id) for s in live.sessions}
    context = _common(viewer, "live") | {"live": live, "series": series}
    return render(request, "admin/live.html", context)


async def session_page(request: web.Request) -> web.Response:
    viewer = await _operator(request)
    if isinstance(viewer, web.Response):
        return viewer
    session_id = request.match_info["session_id"]
    store = request.app[keys.STORE]
    session = await store.get_session(session_id) if is_session_id(session_id) else None
    if session is None:
        return _refusal(request, viewer, 404, "Session not found", "No session has this id.")
    quality = await views.session_quality(request.app, session)
    series = await request.app[keys.QUALITY].series(session_id)
    context = _common(viewer, "sessions") | {"quality": quality, "series": series}
    return render(request, "admin/session.html", context)


async def sessions_page(request: web.Request) -> web.Response:
    viewer = await _operator(request)
    if isinstance(viewer, web.Response):
        return viewer
    error: ValidationError | None = None
    try:
        search, form = parse_search(query_pairs(request))
        found = await views.past_sessions(request.app, search)
    except ValidationError as exc:
        error, form, found = exc, SearchForm(), None
    context = _common(viewer, "sessions") | {"form": form, "found": found, "error": error}
    return render(request, "admin/sessions.html", context, status=400 if error else 200)


async def relay_page(request: web.Request) -> web.Response:
    viewer = await _operator(request)
    if isinstance(viewer, web.Response):
        return viewer
    overview = await views.relay_overview(request.app)
    return render(request, "admin/relay.html", _common(viewer, "relay") | {"overview": overview})


def setup_admin_pages(app: web.Application) -> None:
    app[views.CPU_CLOCK] = views.CpuClock()
    router = app.router
    router.add_get("/admin", live_page, name="admin_live")
    router.add_get("/admin/sessions", sessions_page, name="admin_sessions")
    router.add_get("/admin/sessions/{session_id}", session_page, name="admin_session")
    router.add_get("/admin/relay", relay_page, name="admin_relay")
    templates = app.get(TEMPLATES)
    if templates is not None:  # the site header links operators to the console
        settings = app[keys.SETTINGS]
        templates.globals["is_operator"] = lambda email: is_operator(settings, email)
