"""The operator console's data: quality summaries stored with a session, and the search over
past sessions by participant and start time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from store.base import Store
from store.models import Session
from store.operator import QualitySummary, SessionSearch
from tests.contract.conftest import BASE, booking

MENTOR = "mia.mentor@example.org"


def _summary(session_id: str, email: str, **changes: object) -> QualitySummary:
    summary = QualitySummary(
        session_id=session_id,
        email=email,
        first_at=BASE,
        last_at=BASE + timedelta(minutes=5),
        reports=60,
        path="turn-tcp",
        paths=("direct", "turn-tcp"),
        node="node-a:8080",
        rtt_ms_avg=42.5,
        rtt_ms_max=120.0,
        loss_pct_avg=0.4,
        loss_pct_max=3.0,
        bitrate_in_kbps_avg=850.0,
        bitrate_out_kbps_avg=910.0,
        fps_avg=29.5,
        fps_min=12.0,
        resolution="640x480",
        limitation="bandwidth",
        local_candidate="relay",
        remote_candidate="host",
        poor_reports=2,
        join_ms=1450,
    )
    return replace(summary, **changes)  # type: ignore[arg-type]


async def test_summaries_round_trip_and_are_replaced_per_participant(store: Store) -> None:
    session = await store.create_session(booking(MENTOR, "ben@example.org", start=BASE))
    ana = _summary(session.session_id, "ana@example.org")
    await store.save_quality_summary(ana)
    await store.save_quality_summary(
        _summary(session.session_id, "Ben@Example.org", jitter_ms_avg=None)
    )
    assert await store.quality_summaries(session.session_id) == [
        ana,
        _summary(session.session_id, "Ben@Example.org", jitter_ms_avg=None),
    ]
    later = replace(ana, reports=61, last_at=BASE + timedelta(minutes=6), path="relay")
    await store.save_quality_summary(later)
    stored = await store.quality_summaries(session.session_id)
    assert [s.email.lower() for s in stored] == ["ana@example.org", "ben@example.org"]
    assert stored[0] == later
    assert await store.quality_summaries("unknown") == []


async def test_search_finds_sessions_by_participant_and_start(store: Store) -> None:
    first = await store.create_session(
        booking(MENTOR, "amara.k@example.org", start=BASE, topic="one")
    )
    second = await store.create_session(
        booking(MENTOR, "amara.k@example.org", start=BASE + timedelta(days=1), topic="two")
    )
    other = await store.create_session(
        booking(MENTOR, "zed@example.org", start=BASE + timedelta(days=2), topic="three")
    )

    def ids(found: list[Session]) -> list[str]:
        return [s.session_id for s in found]

    assert ids(await store.search_sessions(SessionSearch(participant="AMARA"))) == [
        second.session_id,
        first.session_id,
    ]
    day_two = SessionSearch(
        start_from=BASE + timedelta(days=1), start_before=BASE + timedelta(days=2)
    )
    assert ids(await store.search_sessions(day_two)) == [second.session_id]
    everyone = await store.search_sessions(SessionSearch())
    assert ids(everyone)[:3] == [other.session_id, second.session_id, first.session_id]
    assert len(await store.search_sessions(SessionSearch(limit=1))) == 1
    # What people type is text, never a pattern: a dot or a star matches only itself.
    assert await store.search_sessions(SessionSearch(participant="amara.*")) == []
    assert ids(await store.search_sessions(SessionSearch(participant="a.k@"))) == [
        second.session_id,
        first.session_id,
    ]
