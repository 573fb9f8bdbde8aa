"""Typed application keys. ``panamia/app.py`` fills them; handlers only read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings
from signaling.keys import HUB, WEBSOCKETS
from store.base import Store

if TYPE_CHECKING:
    from config.runtime_secrets import RuntimeSecrets
    from relay.manager import RelayManager
    from signaling.bus import Bus
    from turn.stun_server import StunResponder
    from web.limits import Limiter
    from web.mail.sender import MailSender
    from web.metrics import MetricsState
    from web.notes.service import NotesService
    from web.wsmedia.rooms import MediaRooms

SETTINGS = web.AppKey("settings", Settings)
SECRETS: web.AppKey[RuntimeSecrets] = web.AppKey("secrets")
STORE = web.AppKey("store", Store)
BUS: web.AppKey[Bus] = web.AppKey("bus")
RELAY: web.AppKey[RelayManager] = web.AppKey("relay")
NOTES: web.AppKey[NotesService] = web.AppKey("notes")
"""The notes rooms; the REST API's ``update_notes`` calls ``app[NOTES].set_notes_text``."""
METRICS: web.AppKey[MetricsState] = web.AppKey("metrics")
MAIL: web.AppKey[MailSender] = web.AppKey("mail")
"""This node's outbox sender; handlers only call ``kick()`` after enqueuing."""
STUN: web.AppKey[StunResponder] = web.AppKey("stun")
"""The built-in STUN responder, when it is on and its port could be bound."""
WSMEDIA: web.AppKey[MediaRooms] = web.AppKey("wsmedia")
"""Media sockets of live sessions (web/wsmedia): the fallback for networks without UDP."""
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter")
"""Rate-limit buckets (in Redis when the bus uses Redis); handlers go through
``web.limits.enforce``."""

__all__ = [
    "BUS",
    "HUB",
    "LIMITER",
    "MAIL",
    "METRICS",
    "NOTES",
    "RELAY",
    "SECRETS",
    "SETTINGS",
    "STORE",
    "STUN",
    "WEBSOCKETS",
    "WSMEDIA",
]
