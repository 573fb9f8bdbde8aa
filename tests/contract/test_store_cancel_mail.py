"""A cancel's notices under contention: cancels racing each other or a move never lose the
winner's mail, never send the loser's, and a cancel built from a stale read is a conflict."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from store.base import Conflict, NotScheduled, Store
from store.models import MailKind, MailStatus, OutboxMessage, Session
from tests.contract.conftest import BASE, booking, minutes

MENTOR = "mentor@example.com"
MENTEE = "mentee@example.com"
NOW = BASE - minutes(24 * 60)


def notices(session: Session, kind: MailKind, sequence: int, by: str) -> list[OutboxMessage]:
    """What the API builds for a change: one notice per person, ids from the sequence."""
    return [
        OutboxMessage(
            message_id=f"{session.session_id}:{kind.value}:{sequence}:{to}",
            recipient=to,
            subject=f"Session {kind.value}",
            text=f"{kind.value} by {by}",
            kind=kind,
            due_at=NOW,
            session_id=session.session_id,
            sequence=sequence,
        )
        for to in (session.mentor_email, session.mentee_email)
    ]


async def cancel(store: Store, session: Session, by: str, sequence: int = 1) -> str:
    outbox = notices(session, MailKind.CANCELLED, sequence, by)
    await store.cancel_session(session.session_id, by, f"Reason {by}", NOW, outbox)
    return "cancel by " + by


async def move(store: Store, session: Session, to: datetime) -> str:
    outbox = notices(session, MailKind.RESCHEDULED, 1, MENTOR)
    await store.reschedule_session(session.session_id, MENTOR, to, NOW, outbox)
    return "move"


async def change_mail(store: Store, session_id: str) -> list[OutboxMessage]:
    rows = await store.list_mail_for(MENTOR, 200) + await store.list_mail_for(MENTEE, 200)
    return [r for r in rows if r.session_id == session_id]


def slow_release(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the store holds mail before a change and releases it after (MongoDB, no
    transactions), let the winner release late, so the losers' clean-up runs first."""
    release = getattr(store, "release_mail", None)
    if release is None:
        return

    async def late(message_ids: list[str]) -> None:
        await asyncio.sleep(0.05)
        await release(message_ids)

    monkeypatch.setattr(store, "release_mail", late)


async def test_concurrent_cancels_leave_exactly_the_winners_notices(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_release(store, monkeypatch)
    for round_ in range(8):
        session = booking(MENTOR, MENTEE, BASE + minutes(120 * round_))
        await store.create_session(session)
        results = await asyncio.gather(
            cancel(store, session, MENTOR),
            cancel(store, session, MENTEE),
            cancel(store, session, MENTOR),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, str)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Conflict) for r in results if not isinstance(r, str)), results
        stored = await store.get_session(session.session_id)
        by = winners[0].removeprefix("cancel by ")
        assert stored is not None and stored.cancelled_by == by
        mail = await change_mail(store, session.session_id)
        assert sorted(m.recipient for m in mail) == [MENTEE, MENTOR], round_
        assert {m.text for m in mail} == {f"cancelled by {by}"}
        assert {m.status for m in mail} == {MailStatus.PENDING}


async def test_a_cancel_racing_a_move_sends_only_the_winners_notices(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_release(store, monkeypatch)
    for round_ in range(6):
        start = BASE + minutes(240 * round_)
        session = booking(MENTOR, MENTEE, start)
        await store.create_session(session)
        racers = [cancel(store, session, MENTEE), move(store, session, start + minutes(120))]
        if round_ % 2:
            racers.reverse()
        results = await asyncio.gather(*racers, return_exceptions=True)
        winners = [r for r in results if isinstance(r, str)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Conflict | NotScheduled) for r in results if r not in winners)
        mail = await change_mail(store, session.session_id)
        kind = MailKind.RESCHEDULED if winners == ["move"] else MailKind.CANCELLED
        assert {m.kind for m in mail} == {kind}, (round_, results)
        assert len(mail) == 2 and {m.status for m in mail} == {MailStatus.PENDING}


async def test_a_cancel_built_before_a_move_is_a_conflict(store: Store) -> None:
    session = booking(MENTOR, MENTEE, BASE)
    await store.create_session(session)
    moved = notices(session, MailKind.RESCHEDULED, 1, MENTOR)
    await store.reschedule_session(session.session_id, MENTOR, BASE + minutes(60), NOW, moved)
    stale = notices(session, MailKind.CANCELLED, 1, MENTEE)  # read before the move
    with pytest.raises(Conflict):
        await store.cancel_session(session.session_id, MENTEE, "Ill", NOW, stale)
    stored = await store.get_session(session.session_id)
    assert stored is not None and stored.sequence == 1 and stored.cancelled_by is None
    mail = await change_mail(store, session.session_id)
    assert {m.kind for m in mail} == {MailKind.RESCHEDULED}
    fresh = notices(session, MailKind.CANCELLED, 2, MENTEE)
    cancelled = await store.cancel_session(session.session_id, MENTEE, "Ill", NOW, fresh)
    assert cancelled.sequence == 2
