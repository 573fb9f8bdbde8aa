"""Application keys the hub's routes read. ``web.keys`` re-exports them for the web app."""

from __future__ import annotations

import weakref

from aiohttp import web

from signaling.hub import Hub

HUB = web.AppKey("hub", Hub)
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
"""Every open websocket of the app, so shutdown can close them with GOING_AWAY."""
