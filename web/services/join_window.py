"""When a session's room may be used: the one rule behind the room page, channel auth, the
notes socket, the media relay and the dashboard's Join button.

The room opens ``lead`` minutes before the start (setting ``room.join_lead_minutes``) and
closes at the end (start + duration). A cancelled session never opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from store.models import Session, SessionStatus
from web.api.errors import ApiError


class JoinState(StrEnum):
    OPEN = "open"
    NOT_YET = "not_yet"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JoinWindow:
    state: JoinState
    opens_at: datetime
    """``lead`` minutes before the start."""
    closes_at: datetime
    """The session's end."""

    @property
    def is_open(self) -> bool:
        return self.state is JoinState.OPEN


def join_window(session: Session, now: datetime, lead_minutes: int) -> JoinWindow:
    """Whether ``session``'s room is open at ``now``, and when it opens and closes."""
    opens_at = session.scheduled_at - timedelta(minutes=lead_minutes)
    closes_at = session.ends_at
    if session.status is SessionStatus.CANCELLED:
        state = JoinState.CANCELLED
    elif session.status is SessionStatus.COMPLETED or now >= closes_at:
        state = JoinState.ENDED
    elif now < opens_at:
        state = JoinState.NOT_YET
    else:
        state = JoinState.OPEN
    return JoinWindow(state, opens_at, closes_at)


def refusal_reason(window: JoinWindow) -> str | None:
    """Why the room may not be used now, in words for an error message; None when open."""
    if window.state is JoinState.NOT_YET:
        opens = window.opens_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"The session room is not open yet: it opens at {opens}"
    if window.state is JoinState.ENDED:
        return "The session has ended"
    if window.state is JoinState.CANCELLED:
        return "The session was cancelled"
    return None


def require_open(session: Session, now: datetime, lead_minutes: int) -> None:
    """Raise a 403 naming the reason unless the room is open at ``now``."""
    reason = refusal_reason(join_window(session, now, lead_minutes))
    if reason is not None:
        raise ApiError(403, reason, "sessionId")
