"""The mail outbox: idempotent enqueue, leased claims, retries, and messages written together
with the change they report."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from store.base import Conflict, NotScheduled, SlotTaken, Store
from store.models import MailKind, MailStatus, OutboxMessage
from tests.contract.conftest import BASE, booking

NOW = BASE - timedelta(days=2)
MENTOR = "mentor@example.com"
MENTEE = "mentee@example.com"


def mail(message_id: str, due_in: timedelta = timedelta(0), **changes: object) -> OutboxMessage:
    message = OutboxMessage(
        message_id=message_id,
        recipient="Someone@Example.com",
        subject=f"Subject {message_id}",
        text="Hello",
        kind=MailKind.BOOKED,
        due_at=NOW + due_in,
        created_at=NOW,
    )
    return replace(message, **changes)  # type: ignore[arg-type]


async def test_enqueue_twice_is_a_no_op(store: Store) -> None:
    assert await store.enqueue_mail([mail("a"), mail("b")]) == 2
    assert await store.enqueue_mail([mail("a", subject="changed"), mail("c")]) == 1
    listed = await store.list_mail_for("someone@example.com")
    assert sorted(m.message_id for m in listed) == ["a", "b", "c"]
    assert next(m for m in listed if m.message_id == "a").subject == "Subject a"


async def test_round_trip_of_every_field(store: Store) -> None:
    message = mail(
        "full",
        html="<p>Hello</p>",
        ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ics_method="REQUEST",
        kind=MailKind.REMINDER,
        session_id="s1",
        sequence=3,
        session_start=BASE,
    )
    await store.enqueue_mail([message])
    [claimed] = await store.claim_mail("node-a", NOW, 60, 10)
    assert claimed.recipient == "someone@example.com"
    assert (claimed.html, claimed.ics, claimed.ics_method) == (
        "<p>Hello</p>",
        message.ics,
        "REQUEST",
    )
    assert (claimed.kind, claimed.session_id, claimed.sequence) == (MailKind.REMINDER, "s1", 3)
    assert claimed.session_start == BASE and claimed.due_at == NOW
    assert claimed.attempts == 1 and claimed.lease_owner == "node-a"
    assert claimed.lease_expires_at == NOW + timedelta(seconds=60)


async def test_only_due_messages_are_claimed_in_due_order(store: Store) -> None:
    await store.enqueue_mail(
        [mail("later", timedelta(minutes=5)), mail("second", timedelta(seconds=2)), mail("first")]
    )
    claimed = await store.claim_mail("n", NOW + timedelta(seconds=3), 60, 10)
    assert [m.message_id for m in claimed] == ["first", "second"]
    assert await store.count_mail_due(NOW + timedelta(seconds=3)) == 2  # leased, still pending
    assert await store.claim_mail("n", NOW + timedelta(seconds=3), 60, 10) == []


async def test_a_leased_message_is_not_claimed_again_until_the_lease_expires(
    store: Store,
) -> None:
    await store.enqueue_mail([mail("m")])
    assert len(await store.claim_mail("a", NOW, 30, 10)) == 1
    assert await store.claim_mail("b", NOW + timedelta(seconds=29), 30, 10) == []
    [again] = await store.claim_mail("b", NOW + timedelta(seconds=31), 30, 10)
    assert again.lease_owner == "b" and again.attempts == 2
    # The first owner lost its lease: its late report is refused.
    assert not await store.mark_mail_sent("m", "a", NOW + timedelta(seconds=32))
    assert await store.mark_mail_sent("m", "b", NOW + timedelta(seconds=32))
    [sent] = await store.list_mail_for("someone@example.com")
    assert sent.status is MailStatus.SENT and sent.sent_at == NOW + timedelta(seconds=32)
    assert await store.claim_mail("c", NOW + timedelta(hours=1), 30, 10) == []


async def test_concurrent_claimers_never_share_a_message(store: Store) -> None:
    await store.enqueue_mail([mail(f"m{i:03d}") for i in range(60)])
    owners = [f"node-{i}" for i in range(6)]
    batches = await asyncio.gather(*(store.claim_mail(o, NOW, 60, 7) for o in owners))
    batches += await asyncio.gather(*(store.claim_mail(o, NOW, 60, 7) for o in owners))
    ids = [m.message_id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_retry_backs_off_then_gives_up(store: Store) -> None:
    await store.enqueue_mail([mail("r")])
    at = NOW
    for attempt in (1, 2):
        [claimed] = await store.claim_mail("n", at, 60, 1)
        assert claimed.attempts == attempt
        retry_at = at + timedelta(minutes=attempt)
        status = await store.mark_mail_retry("r", "n", "451 try later", retry_at, 3)
        assert status is MailStatus.PENDING
        assert await store.claim_mail("n", retry_at - timedelta(seconds=1), 60, 1) == []
        at = retry_at
    [claimed] = await store.claim_mail("n", at, 60, 1)
    assert await store.mark_mail_retry("r", "n", "451 again", at, 3) is MailStatus.FAILED
    [failed] = await store.list_mail_for("someone@example.com")
    assert failed.status is MailStatus.FAILED and failed.last_error == "451 again"
    assert await store.claim_mail("n", at + timedelta(days=1), 60, 1) == []
    assert await store.mark_mail_retry("r", "other", "x", at, 3) is None


async def test_skipped_messages_count_as_done(store: Store) -> None:
    await store.enqueue_mail([mail("s")])
    await store.claim_mail("n", NOW, 60, 1)
    assert await store.mark_mail_sent("s", "n", NOW, skipped=True)
    [done] = await store.list_mail_for("someone@example.com")
    assert done.status is MailStatus.SKIPPED
    assert await store.count_mail_due(NOW + timedelta(days=1)) == 0


async def test_messages_are_listed_per_recipient_newest_first(store: Store) -> None:
    await store.enqueue_mail(
        [
            mail("old", created_at=NOW - timedelta(hours=1)),
            mail("new"),
            mail("other", recipient="other@example.com"),
        ]
    )
    assert [m.message_id for m in await store.list_mail_for("SOMEONE@example.com")] == [
        "new",
        "old",
    ]
    assert [m.message_id for m in await store.list_mail_for("someone@example.com", 1)] == ["new"]


async def test_a_booking_enqueues_its_messages(store: Store) -> None:
    session = booking(MENTOR, MENTEE, session_id="booked")
    await store.create_session(session, outbox=[mail("booked-1", recipient=MENTOR)])
    [queued] = await store.claim_mail("n", NOW, 60, 10)
    assert queued.message_id == "booked-1"


async def test_a_refused_booking_enqueues_nothing(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, session_id="first"))
    with pytest.raises(Conflict):
        await store.create_session(
            booking(MENTOR, "x@example.com", session_id="second"),
            outbox=[mail("second-1", recipient=MENTOR)],
        )
    assert await store.list_mail_for(MENTOR) == []
    assert await store.claim_mail("n", NOW + timedelta(hours=1), 60, 10) == []


async def test_a_cancel_enqueues_its_messages_and_a_refused_one_does_not(store: Store) -> None:
    await store.create_session(booking(MENTOR, MENTEE, session_id="c"))
    await store.cancel_session("c", MENTEE, "ill", NOW, outbox=[mail("c-1", recipient=MENTOR)])
    with pytest.raises(Conflict):
        await store.cancel_session("c", MENTEE, "ill", NOW, outbox=[mail("c-2", recipient=MENTOR)])
    assert [m.message_id for m in await store.claim_mail("n", NOW, 60, 10)] == ["c-1"]


async def test_a_move_enqueues_its_messages_and_a_refused_one_does_not(store: Store) -> None:
    moving = await store.create_session(booking(MENTOR, MENTEE, BASE, 60, session_id="mv"))
    blocker = BASE + timedelta(hours=4)
    await store.create_session(booking("other@example.com", MENTEE, blocker, 60))

    def move_mail(message_id: str, sequence: int) -> OutboxMessage:
        return mail(message_id, recipient=MENTOR, session_id="mv", sequence=sequence)

    # The new time is taken: the session stays, and so does the outbox (empty).
    with pytest.raises(SlotTaken):
        await store.reschedule_session("mv", MENTEE, blocker, NOW, outbox=[move_mail("x", 1)])
    assert await store.list_mail_for(MENTOR) == []
    assert await store.get_session("mv") == moving

    later = BASE + timedelta(hours=8)
    moved = await store.reschedule_session("mv", MENTEE, later, NOW, outbox=[move_mail("mv-1", 1)])
    assert moved.sequence == 1
    assert [m.message_id for m in await store.claim_mail("n", NOW, 60, 10)] == ["mv-1"]


async def test_move_mail_built_for_a_stale_sequence_refuses_the_move(store: Store) -> None:
    """Mail built from a read the session has since outgrown (another move got in first)
    would describe the wrong change: the move fails and queues nothing."""
    await store.create_session(booking(MENTOR, MENTEE, BASE, 60, session_id="st"))
    first = await store.reschedule_session("st", MENTOR, BASE + timedelta(hours=2), NOW)
    stale = mail("st-1", recipient=MENTOR, session_id="st", sequence=1)
    with pytest.raises(NotScheduled):
        await store.reschedule_session("st", MENTEE, BASE + timedelta(hours=5), NOW, outbox=[stale])
    assert await store.get_session("st") == first
    assert await store.list_mail_for(MENTOR) == []


async def test_a_move_racing_bookings_queues_only_the_winners_mail(store: Store) -> None:
    """A move and bookings of the same time, each with its mail: whoever wins has its mail
    queued, and nobody else's is."""
    for round_ in range(3):
        day = BASE + timedelta(days=10 * round_)
        target = day + timedelta(hours=5)
        sid = f"race{round_}"
        await store.create_session(booking(MENTOR, MENTEE, day, 60, session_id=sid))
        move = store.reschedule_session(
            sid,
            MENTEE,
            target,
            NOW,
            outbox=[mail(f"{sid}-moved", recipient=MENTOR, session_id=sid, sequence=1)],
        )
        rivals = [
            store.create_session(
                booking(MENTOR, f"r{i}@example.com", target, 60, session_id=f"{sid}-r{i}"),
                outbox=[mail(f"{sid}-r{i}-booked", recipient=MENTOR)],
            )
            for i in range(4)
        ]
        results = await asyncio.gather(move, *rivals, return_exceptions=True)
        winners = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
        assert len(winners) == 1, results
        expected = f"{sid}-moved" if winners == [0] else f"{sid}-r{winners[0] - 1}-booked"
        queued = {m.message_id for m in await store.list_mail_for(MENTOR)}
        assert {q for q in queued if q.startswith(f"{sid}-")} == {expected}
