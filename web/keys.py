"""Typed application keys. ``panamia/app.py`` fills them; handlers only read them."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings
from store.base import Store

if TYPE_CHECKING:
    from signaling.bus import Bus
    from signaling.hub import Hub

    from panamia.secrets import RuntimeSecrets

SETTINGS = web.AppKey("settings", Settings)
SECRETS: web.AppKey[RuntimeSecrets] = web.AppKey("secrets")
STORE = web.AppKey("store", Store)
BUS: web.AppKey[Bus] = web.AppKey("bus")
HUB: web.AppKey[Hub] = web.AppKey("hub")
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
"""Every open websocket, so shutdown can close them with GOING_AWAY."""
