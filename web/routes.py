"""Every route of the web app: the JSON API, the pages and the static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"


def setup_routes(app: web.Application) -> None:
    from web.admin.pages import setup_admin_pages
    from web.api import setup_api_routes
    from web.pages import setup_page_routes
    from web.room import setup_room_routes

    setup_api_routes(app)
    setup_page_routes(app)
    setup_room_routes(app)
    setup_admin_pages(app)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
