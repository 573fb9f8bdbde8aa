"""What only the MongoDB store has: its indexes, leftovers of a crash, an unreachable server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from store.base import Conflict, StoreUnavailable
from store.models import MailKind, OutboxMessage, SessionStatus, utcnow
from store.mongo import CLAIMS, SESSIONS, MongoStore
from tests.contract.conftest import BASE, ROOT, booking, mongoeco_python
from tests.support.procs import free_port, running

pytestmark = pytest.mark.mongo

Doc = dict[str, object]


@pytest.fixture(params=["mongo", "mongodb"])
def uri(request: pytest.FixtureRequest) -> str:
    name = "mongoeco_uri" if request.param == "mongo" else "mongodb_uri"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
async def db(uri: str) -> AsyncIterator[tuple[MongoStore, AsyncMongoClient[Doc], str]]:
    name = f"specific_{uuid.uuid4().hex[:16]}"
    store = MongoStore(uri, name)
    await store.open()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, tz_aware=True)
    try:
        yield store, client, name
    finally:
        await store.close()
        await client.drop_database(name)
        await client.close()


async def test_open_creates_the_indexes(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    _store, client, name = db
    sessions = await client[name][SESSIONS].index_information()
    keys = {tuple(info["key"]): info.get("unique", False) for info in sessions.values()}
    assert keys[(("sessionId", 1),)] is True
    assert (("mentorEmail", 1), ("scheduledAt", -1)) in keys
    assert (("menteeEmail", 1), ("scheduledAt", -1)) in keys
    claims = await client[name][CLAIMS].index_information()
    assert any(
        tuple(info["key"]) == (("email", 1), ("cell", 1)) and info.get("unique")
        for info in claims.values()
    )
    profiles = await client[name]["profiles"].index_information()
    profile_keys = [tuple(info["key"]) for info in profiles.values()]
    assert (("mentoring.enabled", 1),) in profile_keys
    assert (("mentoring.expertise", 1),) in profile_keys


async def test_documents_use_camel_case_fields(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    session = await store.create_session(booking("Mentor@example.com", "mentee@example.com"))
    doc = await client[name][SESSIONS].find_one({"sessionId": session.session_id})
    assert doc is not None
    assert doc["mentorEmail"] == "mentor@example.com"
    assert doc["scheduledAt"] == BASE
    assert doc["status"] == "scheduled"
    assert {"menteeEmail", "duration", "topic", "notes", "createdAt", "updatedAt"} <= set(doc)


async def test_claim_left_by_a_crashed_booking_is_reclaimed(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    # A booking that died after claiming and before writing its session, long ago.
    old = ObjectId.from_datetime(utcnow() - timedelta(minutes=10))
    await client[name][CLAIMS].insert_one(
        {"_id": old, "email": "mentor@example.com", "cell": BASE, "sessionId": "ghost"}
    )
    await store.create_session(booking("mentor@example.com", "mentee@example.com", BASE, 30))
    assert await client[name][CLAIMS].count_documents({"sessionId": "ghost"}) == 0


async def test_claim_of_a_booking_in_flight_is_respected(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    # Claimed a moment ago; its session is about to be written.
    await client[name][CLAIMS].insert_one(
        {"email": "mentor@example.com", "cell": BASE, "sessionId": "in-flight"}
    )
    with pytest.raises(Conflict):
        await store.create_session(booking("mentor@example.com", "mentee@example.com", BASE, 30))
    assert await client[name][CLAIMS].count_documents({"email": "mentee@example.com"}) == 0


async def test_claim_left_by_an_interrupted_cancel_is_reclaimed(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    store, client, name = db
    first = await store.create_session(booking("mentor@example.com", "mentee@example.com"))
    # The status changed but the process died before deleting the claims.
    await client[name][SESSIONS].update_one(
        {"sessionId": first.session_id}, {"$set": {"status": SessionStatus.CANCELLED.value}}
    )
    assert await client[name][CLAIMS].count_documents({"sessionId": first.session_id}) == 4
    await store.create_session(booking("mentor@example.com", "other@example.com", BASE, 60))


async def test_ping_reports_a_server_that_went_away() -> None:
    python = mongoeco_python()
    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"

    store = MongoStore(uri, "gone")
    with running([python, str(ROOT / "scripts" / "mongo_sidecar.py"), "--port", str(port)], port):
        await store.open()
        await store.ping()
    try:
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()


async def test_open_without_a_server_is_unavailable() -> None:
    port = free_port()
    store = MongoStore(
        f"mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=300", "none"
    )
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.ping()


def test_real_mongodb_runs_when_configured(mongodb_uri: str) -> None:
    """The contract suite also runs against a real MongoDB when PANAMIA_TEST_MONGODB_URI is set.

    Without it this test skips with that reason, once, instead of every contract test.
    """
    assert mongodb_uri.startswith(("mongodb://", "mongodb+srv://"))


# --- mail written with a change, without transactions ------------------------------------
async def test_held_mail_is_settled_by_the_sweep(
    db: tuple[MongoStore, AsyncMongoClient[Doc], str],
) -> None:
    """A writer that died between holding its messages and making its change: the sweep
    releases the messages of a change that happened and drops those of one that did not."""
    store, _client, _name = db
    session = booking("m@example.com", "e@example.com", session_id="kept")
    now = utcnow()

    def message(message_id: str) -> OutboxMessage:
        return OutboxMessage(
            message_id=message_id,
            recipient="m@example.com",
            subject="s",
            text="t",
            kind=MailKind.BOOKED,
            due_at=now,
            created_at=now - timedelta(minutes=5),
        )

    # The change happened (the session exists with the expected fields), the release did not.
    await store.hold_mail([message("happened")], "kept", {"createdAt": session.created_at})
    await store.create_session(session)
    # The change never happened.
    await store.hold_mail([message("never")], "ghost", {"createdAt": session.created_at})
    # A fresh hold (its writer may still be working) is left alone.
    await store.hold_mail([replace(message("fresh"), created_at=now)], "ghost", {"x": 1})
    assert await store.claim_mail("n", now - timedelta(minutes=2), 60, 10) == []
    claimed = await store.claim_mail("n", now, 60, 10)
    assert [m.message_id for m in claimed] == ["happened"]
    listed = {m.message_id for m in await store.list_mail_for("m@example.com")}
    assert listed == {"happened"}  # "never" was dropped, "fresh" is still held
