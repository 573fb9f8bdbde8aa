"""Typed application keys. ``panamia/app.py`` fills them; handlers only read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings
from signaling.keys import HUB, WEBSOCKETS
from store.base import Store

if TYPE_CHECKING:
    from panamia.secrets import RuntimeSecrets
    from relay.manager import RelayManager
    from signaling.bus import Bus

SETTINGS = web.AppKey("settings", Settings)
SECRETS: web.AppKey[RuntimeSecrets] = web.AppKey("secrets")
STORE = web.AppKey("store", Store)
BUS: web.AppKey[Bus] = web.AppKey("bus")
RELAY: web.AppKey[RelayManager] = web.AppKey("relay")

__all__ = ["BUS", "HUB", "RELAY", "SECRETS", "SETTINGS", "STORE", "WEBSOCKETS"]
