"""A cancel happens only at the sequence and start its caller read (both backends).

The API reads the session, builds the CANCEL notices from it (its time, sequence + 1) and
then cancels. A move landing in between must make the cancel fail with SessionChanged (and
store nothing), or the notices would carry the old time and the move's own SEQUENCE.
"""

from __future__ import annotations

import asyncio

import pytest

from store.base import Conflict, NotScheduled, SessionChanged, Store
from store.models import MailKind, MailStatus, Session, SessionStatus
from tests.contract.conftest import BASE, booking, minutes
from tests.contract.test_store_cancel_mail import MENTEE, MENTOR, NOW, change_mail, notices


async def cancel_as_read(store: Store, read: Session, by: str = MENTEE) -> Session:
    """What the API does: mail and guard both from the session as it was read."""
    return await store.cancel_session(
        read.session_id,
        by,
        "Ill",
        NOW,
        notices(read, MailKind.CANCELLED, read.sequence + 1, by),
        expected_sequence=read.sequence,
        expected_start=read.scheduled_at,
    )


async def test_a_move_between_the_read_and_the_cancel_makes_it_a_conflict(store: Store) -> None:
    read = booking(MENTOR, MENTEE, BASE)
    await store.create_session(read)
    moved_to = BASE + minutes(90)
    moved = notices(read, MailKind.RESCHEDULED, 1, MENTOR)
    await store.reschedule_session(read.session_id, MENTOR, moved_to, NOW, moved)

    with pytest.raises(SessionChanged) as raised:
        await cancel_as_read(store, read)
    assert isinstance(raised.value, Conflict)
    assert raised.value.current.scheduled_at == moved_to
    assert raised.value.current.sequence == 1

    stored = await store.get_session(read.session_id)
    assert stored is not None and stored.status is SessionStatus.SCHEDULED
    assert stored.sequence == 1 and stored.scheduled_at == moved_to
    mail = await change_mail(store, read.session_id)
    assert {m.kind for m in mail} == {MailKind.RESCHEDULED}

    # Read again, the cancel goes through, with notices for the moved time.
    cancelled = await cancel_as_read(store, stored)
    assert cancelled.status is SessionStatus.CANCELLED and cancelled.sequence == 2
    mail = await change_mail(store, read.session_id)
    sent = [m for m in mail if m.kind is MailKind.CANCELLED]
    assert len(sent) == 2 and {m.sequence for m in sent} == {2}
    assert {m.status for m in sent} == {MailStatus.PENDING}


async def test_the_guard_holds_without_mail_and_checks_the_start_too(store: Store) -> None:
    read = booking(MENTOR, MENTEE, BASE)
    await store.create_session(read)
    for sequence, start in ((1, BASE), (0, BASE + minutes(30))):
        with pytest.raises(SessionChanged):
            await store.cancel_session(
                read.session_id, MENTOR, "No", NOW, expected_sequence=sequence, expected_start=start
            )
    stored = await store.get_session(read.session_id)
    assert stored is not None and stored.status is SessionStatus.SCHEDULED
    assert stored.sequence == 0
    done = await store.cancel_session(
        read.session_id, MENTOR, "No", NOW, expected_sequence=0, expected_start=BASE
    )
    assert done.status is SessionStatus.CANCELLED and done.sequence == 1


async def test_a_session_no_longer_scheduled_is_not_scheduled_rather_than_changed(
    store: Store,
) -> None:
    read = booking(MENTOR, MENTEE, BASE)
    await store.create_session(read)
    await cancel_as_read(store, read, by=MENTOR)
    with pytest.raises(NotScheduled):
        await cancel_as_read(store, read)


async def test_mail_and_a_guard_that_disagree_are_refused(store: Store) -> None:
    read = booking(MENTOR, MENTEE, BASE)
    await store.create_session(read)
    with pytest.raises(ValueError, match="sequence"):
        await store.cancel_session(
            read.session_id,
            MENTEE,
            "Ill",
            NOW,
            notices(read, MailKind.CANCELLED, 3, MENTEE),
            expected_sequence=0,
        )
    stored = await store.get_session(read.session_id)
    assert stored is not None and stored.status is SessionStatus.SCHEDULED
    assert await change_mail(store, read.session_id) == []


async def move(store: Store, read: Session) -> str:
    outbox = notices(read, MailKind.RESCHEDULED, 1, MENTOR)
    await store.reschedule_session(
        read.session_id, MENTOR, read.scheduled_at + minutes(120), NOW, outbox
    )
    return "move"


async def cancel(store: Store, read: Session) -> str:
    await cancel_as_read(store, read)
    return "cancel"


async def test_a_guarded_cancel_racing_a_move_has_one_winner_and_its_mail_only(
    store: Store,
) -> None:
    for round_ in range(6):
        start = BASE + minutes(240 * round_)
        read = booking(MENTOR, MENTEE, start)
        await store.create_session(read)

        racers = [cancel(store, read), move(store, read)]
        if round_ % 2:
            racers.reverse()
        results = await asyncio.gather(*racers, return_exceptions=True)
        winners = [r for r in results if isinstance(r, str)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Conflict) for r in results if r not in winners), results
        stored = await store.get_session(read.session_id)
        assert stored is not None and stored.sequence == 1
        mail = await change_mail(store, read.session_id)
        kind = MailKind.RESCHEDULED if winners == ["move"] else MailKind.CANCELLED
        assert {m.kind for m in mail} == {kind}, (round_, results)
        assert len(mail) == 2 and {m.sequence for m in mail} == {1}
