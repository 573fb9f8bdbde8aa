"""Headers every response carries, whatever produced it (a handler, a static file, a websocket
upgrade, an error page): registered as an ``on_response_prepare`` hook, which aiohttp runs for
each of them just before the headers go out.

- ``X-Content-Type-Options: nosniff``: a browser takes each body for the type it is labelled
  with, so an uploaded or echoed text is never run as a script or a style sheet.
- ``Server: Pana Mia Live``: aiohttp would announce its own and Python's versions, which only
  help someone looking for a known hole.
"""

from __future__ import annotations

from aiohttp import hdrs, web

SERVER_NAME = "Pana Mia Live"


async def set_common_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers[hdrs.X_CONTENT_TYPE_OPTIONS] = "nosniff"
    response.headers[hdrs.SERVER] = SERVER_NAME
