"""Scheduling on MongoDB only: leftovers of a move that died midway, and documents written
before scheduling existed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from store.base import Conflict
from store.models import MailKind, OutboxMessage, utcnow
from store.mongo import CLAIMS, SESSIONS, MongoStore
from tests.contract.conftest import BASE, booking, minutes

pytestmark = pytest.mark.mongo

Doc = dict[str, object]
NOW = BASE - timedelta(days=1)


@pytest.fixture
async def db(mongoeco_uri: str) -> AsyncIterator[tuple[MongoStore, AsyncMongoClient[Doc], str]]:
    name = f"schedule_{uuid.uuid4().hex[:16]}"
    store = MongoStore(mongoeco_uri, name)
    await store.open()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongoeco_uri, tz_aware=True)
    try:
        yield store, client, name
    finally:
        await store.close()
        await client.drop_database(name)
        await client.close()


async def test_claim_left_by_a_move_that_died_is_reclaimed(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    session = await store.create_session(booking("mentor@example.com", "mentee@example.com"))
    later = BASE + timedelta(hours=4)
    # Step 1 of a move claimed the new time long ago, then the process died.
    old = ObjectId.from_datetime(utcnow() - timedelta(minutes=10))
    await client[name][CLAIMS].insert_one(
        {"_id": old, "email": "mentor@example.com", "cell": later, "sessionId": session.session_id}
    )
    await store.create_session(booking("mentor@example.com", "other@example.com", later, 30))
    assert await client[name][CLAIMS].count_documents({"_id": old}) == 0


async def test_claim_of_a_move_in_flight_is_respected(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    session = await store.create_session(booking("mentor@example.com", "mentee@example.com"))
    later = BASE + timedelta(hours=4)
    await client[name][CLAIMS].insert_one(
        {"email": "mentor@example.com", "cell": later, "sessionId": session.session_id}
    )
    with pytest.raises(Conflict):
        await store.create_session(booking("mentor@example.com", "other@example.com", later, 30))


async def test_documents_from_before_scheduling(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    session = await store.create_session(booking("mentor@example.com", "mentee@example.com"))
    await client[name][SESSIONS].update_one(
        {"sessionId": session.session_id}, {"$unset": {"sequence": "", "history": ""}}
    )
    await store.ensure_profile("mentor@example.com")
    await client[name]["profiles"].update_one(
        {"email": "mentor@example.com"}, {"$unset": {"availability": ""}}
    )
    profile = await store.get_profile("mentor@example.com")
    assert profile is not None and profile.availability is None
    read = await store.get_session(session.session_id)
    assert read is not None and read.sequence == 0 and read.history == ()
    moved = await store.reschedule_session(
        session.session_id, "mentee@example.com", BASE + minutes(120), NOW
    )
    assert moved.sequence == 1 and len(moved.history) == 1


async def test_held_move_mail_is_settled_by_the_sweep(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    """A move whose writer died after the switch but before releasing its mail: the sweep
    finds the move in the session's history and releases the mail; mail held for a move
    that never happened is dropped."""
    store, _client, _name = db
    now = utcnow()
    start = now + timedelta(days=3)
    session = await store.create_session(
        booking("m@example.com", "e@example.com", start, session_id="mv")
    )
    old_hold = now - timedelta(minutes=5)

    def message(message_id: str) -> OutboxMessage:
        return OutboxMessage(
            message_id=message_id,
            recipient="m@example.com",
            subject="s",
            text="t",
            kind=MailKind.RESCHEDULED,
            due_at=now,
            session_id="mv",
            sequence=1,
            created_at=old_hold,
        )

    moved = await store.reschedule_session("mv", "e@example.com", start + timedelta(hours=2), now)
    change = moved.history[-1]
    happened = {"by": change.by, "at": change.at, "from": change.from_start, "to": change.to_start}
    await store.hold_mail([message("moved")], "mv", {"history": {"$elemMatch": happened}})
    never = {**happened, "to": start + timedelta(hours=9)}
    await store.hold_mail([message("not-moved")], "mv", {"history": {"$elemMatch": never}})
    claimed = await store.claim_mail("n", now, 60, 10)
    assert [m.message_id for m in claimed] == ["moved"]
    assert {m.message_id for m in await store.list_mail_for("m@example.com")} == {"moved"}
    assert session.sequence == 0
