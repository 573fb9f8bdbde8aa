"""The hook through which the hub keeps client events whose history must outlive a connection.

The hub is a generic Pusher server: it knows nothing about mentoring sessions or chat. An app
that wants some client events kept (the web app keeps ``client-chat-message`` on
``presence-session-{id}``) hands the hub a :class:`PersistedChannels`. For every client event
that passed the protocol's checks (subscribed, rate, size) the hub asks ``review``:

- :data:`PASS`: not kept; fanned out as usual;
- :data:`KEEP`: fanned out, then :meth:`~PersistedChannels.persist` runs in the background;
- :func:`refuse`: neither fanned out nor kept; the sender gets a ``pusher:error`` frame with
  code 4302 (``CloseCode.CLIENT_EVENT_REFUSED``) and the reason, and stays connected.

``review`` runs for every client event on the hub's hot path, so it must be cheap and must not
block; the store write belongs in ``persist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Review:
    """What the hub does with one client event; build with PASS, KEEP or refuse()."""

    keep: bool = False
    refusal: str | None = None
    """Why the event is refused (sent to the client), or None when it goes out."""


PASS = Review()
KEEP = Review(keep=True)


def refuse(reason: str) -> Review:
    return Review(refusal=reason)


@dataclass(frozen=True)
class Sender:
    """Who sent a kept event: the presence member's id and ``user_info`` (empty when the
    channel is not a presence channel or the member has no info)."""

    user_id: str | None
    user_info: Mapping[str, Any] = field(default_factory=dict)


class PersistedChannels(Protocol):
    def review(self, channel: str, event: str, data: Any) -> Review:
        """Decide, without I/O, whether this client event is passed, kept or refused.
        ``data`` is the event's data, decoded when it was sent as a JSON string."""
        ...

    async def persist(self, channel: str, event: str, data: Any, sender: Sender) -> None:
        """Keep an event ``review`` answered KEEP for (after it was fanned out)."""
        ...


class PersistNothing:
    """The default: every client event passes and nothing is kept."""

    def review(self, channel: str, event: str, data: Any) -> Review:
        return PASS

    async def persist(self, channel: str, event: str, data: Any, sender: Sender) -> None:
        return None
