"""Session start times for tests that open a session's room (call, chat, notes, relay).

The room is only open from ``room.join_lead_minutes`` before the start until the end, so a
test that opens a room creates its session around now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

LONG_LEAD_MINUTES = 24 * 60
"""A ``room.join_lead_minutes`` for servers that open several rooms of the same two people:
their sessions cannot overlap, so all but one start later, inside this long lead."""


def open_room_start(slot: int = 0) -> datetime:
    """A start whose room is open now: 5 minutes ago (open under any lead), plus ``slot``
    hours (open when the server's lead is LONG_LEAD_MINUTES). Sessions of up to 60 minutes
    on different slots never overlap."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(minutes=5) + timedelta(hours=slot)
