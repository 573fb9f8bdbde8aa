"""Typed application keys. ``panamia/app.py`` fills them; handlers only read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings
from signaling.keys import HUB, WEBSOCKETS
from store.base import Store

if TYPE_CHECKING:
    from config.runtime_secrets import RuntimeSecrets
    from relay.service import RelayService
    from signaling.bus import Bus
    from turn.stun_server import StunResponder
    from web.limits import Limiter
    from web.mail.sender import MailSender
    from web.metrics import MetricsState
    from web.notes.service import NotesService
    from web.quality.service import QualityService
    from web.rooms.forward import RoomRouter
    from web.services.recording import RecordingService
    from web.wsmedia.rooms import MediaRooms

SETTINGS = web.AppKey("settings", Settings)
SECRETS: web.AppKey[RuntimeSecrets] = web.AppKey("secrets")
STORE = web.AppKey("store", Store)
BUS: web.AppKey[Bus] = web.AppKey("bus")
RELAY: web.AppKey[RelayService] = web.AppKey("relay")
"""The node's relay: in this process, or a pool of relay worker processes (``relay.workers``)."""
NOTES: web.AppKey[NotesService] = web.AppKey("notes")
"""The notes rooms; the REST API's ``update_notes`` calls ``app[NOTES].set_notes_text``."""
ROOMS: web.AppKey[RoomRouter] = web.AppKey("rooms")
"""Room ownership in cluster mode (absent on a single node): leases and forwarding."""
RECORDINGS: web.AppKey[RecordingService] = web.AppKey("recordings")
"""Consented session recording (docs/recording.md)."""
METRICS: web.AppKey[MetricsState] = web.AppKey("metrics")
MAIL: web.AppKey[MailSender] = web.AppKey("mail")
"""This node's outbox sender; handlers only call ``kick()`` after enqueuing."""
QUALITY: web.AppKey[QualityService] = web.AppKey("quality")
"""Call-quality reports: the live window of this node and the summaries it saves."""
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
    "QUALITY",
    "RECORDINGS",
    "RELAY",
    "ROOMS",
    "SECRETS",
    "SETTINGS",
    "STORE",
    "STUN",
    "WEBSOCKETS",
    "WSMEDIA",
]
