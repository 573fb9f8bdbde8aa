"""Every route of the web app: the JSON API, the pages and the static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.static_assets import STATIC_ASSETS, StaticAssets, cache_static

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
    # Versioned URLs and module preloads come from the manifest (web/static_assets.py).
    app[STATIC_ASSETS] = StaticAssets.scan(STATIC_DIR)
    app.on_response_prepare.append(cache_static)
    app.router.add_static("/static/", STATIC_DIR, name="static")
