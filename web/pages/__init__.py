"""Server-rendered pages of the mentoring app (Jinja2 templates plus small ES modules)."""

from __future__ import annotations

from aiohttp import web

from web.pages import handlers
from web.pages.rendering import TEMPLATES, make_environment


def setup_page_routes(app: web.Application) -> None:
    app[TEMPLATES] = make_environment()
    router = app.router
    router.add_get("/", handlers.landing, name="page_landing")
    router.add_get("/signin", handlers.signin, name="page_signin")
    router.add_get("/signout", handlers.signout, name="page_signout")
    router.add_get("/mentoring", handlers.mentoring_home)
    router.add_get("/mentoring/profile", handlers.profile_view, name="page_profile")
    router.add_get("/mentoring/profile/edit", handlers.profile_edit, name="page_profile_edit")
    router.add_get("/mentoring/availability", handlers.availability, name="page_availability")
    router.add_get("/mentoring/discover", handlers.discover, name="page_discover")
    router.add_get("/mentoring/book/{mentor_email}", handlers.book, name="page_book")
    router.add_get("/mentoring/mentors/{mentor_email}", handlers.mentor_profile, name="page_mentor")
    router.add_get("/mentoring/schedule", handlers.schedule)
    router.add_get("/mentoring/sessions", handlers.sessions, name="page_sessions")
    # A session's details (and its recordings) at any time; the room shows them once it ends.
    router.add_get(
        "/mentoring/sessions/{session_id}", handlers.session_details, name="page_session"
    )
