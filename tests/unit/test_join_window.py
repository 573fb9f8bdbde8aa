"""The join window's edges: open exactly at start - lead, closed exactly at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.models import Session, SessionStatus
from web.services.join_window import JoinState, join_window

START = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def session(status: SessionStatus = SessionStatus.SCHEDULED) -> Session:
    return Session("s1", "mentor@example.org", "mentee@example.org", START, 30, "Edges", status)


def state_at(minutes_from_start: float, lead: int = 10, **kw: SessionStatus) -> JoinState:
    now = START + timedelta(minutes=minutes_from_start)
    return join_window(session(**kw), now, lead).state


def test_edges() -> None:
    assert state_at(-10.01) is JoinState.NOT_YET
    assert state_at(-10) is JoinState.OPEN
    assert state_at(29.99) is JoinState.OPEN
    assert state_at(30) is JoinState.ENDED
    assert state_at(-1, lead=0) is JoinState.NOT_YET
    assert state_at(0, lead=0) is JoinState.OPEN


def test_cancelled_and_completed_never_open() -> None:
    assert state_at(5, status=SessionStatus.CANCELLED) is JoinState.CANCELLED
    assert state_at(-60, status=SessionStatus.CANCELLED) is JoinState.CANCELLED
    assert state_at(5, status=SessionStatus.COMPLETED) is JoinState.ENDED


def test_window_times() -> None:
    window = join_window(session(), START, 15)
    assert window.opens_at == START - timedelta(minutes=15)
    assert window.closes_at == START + timedelta(minutes=30)
    assert window.is_open
