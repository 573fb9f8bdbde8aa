"""Two people through the whole API on a real server and a real SQLite file: sign in,
profile, discover, book, a conflicting booking, listing, notes and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from store.models import Session
from tests.support.apiclient import Client, become_mentor, future_day, slot, user
from web import keys


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))


async def signed_in(aiohttp_client: AiohttpClient, server: TestServer, email: str) -> Client:
    return await user(aiohttp_client, server, email)


async def test_two_people_book_and_run_a_session(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    ana = await signed_in(aiohttp_client, server, "Ana.Lopez@Example.org")
    ben = await signed_in(aiohttp_client, server, "ben@example.org")

    me = await (await ana.get("/api/me")).json()
    assert me == {
        "email": "ana.lopez@example.org",
        "name": "Ana Lopez",
        "avatarUrl": None,
        "timeZone": "UTC",
    }

    # Ana becomes a mentor; Ben finds her, case-insensitively, and not himself.
    profile = (await become_mentor(ana))["profile"]
    assert profile["mentoring"]["enabled"] is True
    assert profile["mentoring"]["expertise"] == ["Python", "System Design"]
    found = await (await ben.get("/api/mentoring/discover?expertise=PYTH&language=span")).json()
    assert [m["email"] for m in found["mentors"]] == ["ana.lopez@example.org"]
    assert found["total"] == 1 and found["page"] == 1
    own = await (await ana.get("/api/mentoring/discover")).json()
    assert own["mentors"] == []

    # Ben books an hour at 10:00 UTC.
    start = slot(10)
    booked = await ben.post(
        "/api/mentoring/sessions",
        json={
            "mentorEmail": "ANA.LOPEZ@example.org",
            "scheduledAt": start,
            "duration": 60,
            "topic": "Review my API design",
        },
    )
    assert booked.status == 201, await booked.text()
    session = (await booked.json())["session"]
    session_id = session["sessionId"]
    assert session["mentorEmail"] == "ana.lopez@example.org"
    assert session["menteeEmail"] == "ben@example.org"
    assert session["mentorName"] == "Ana Lopez"
    assert session["menteeName"] == "Ben"
    assert session["scheduledAt"] == start
    assert session["status"] == "scheduled"

    # The booking calendar no longer offers the hour; the one after it is still free.
    day = future_day().isoformat()
    free = await (
        await ben.get(
            f"/api/mentoring/mentors/ana.lopez@example.org/slots?from={day}&to={day}&duration=60"
        )
    ).json()
    assert free["timeZone"] == "UTC"
    assert start not in free["slots"] and slot(10, 30) not in free["slots"]
    assert slot(11) in free["slots"]

    # An overlapping booking, by Ben or by someone else, is refused.
    carla = await signed_in(aiohttp_client, server, "carla@example.org")
    for who, at in ((ben, slot(10, 30)), (carla, start)):
        clash = await who.post(
            "/api/mentoring/sessions",
            json={
                "mentorEmail": "ana.lopez@example.org",
                "scheduledAt": at,
                "duration": 30,
                "topic": "Another topic",
            },
        )
        assert clash.status == 409
        refused = await clash.json()
        assert refused["field"] == "scheduledAt"
        assert refused["code"] == ("mentee_busy" if who is ben else "mentor_busy")

    # Listing, from each side.
    as_mentee = await (await ben.get("/api/mentoring/sessions?role=mentee")).json()
    assert [s["sessionId"] for s in as_mentee["sessions"]] == [session_id]
    as_mentor = await (await ana.get("/api/mentoring/sessions?role=mentor&status=scheduled")).json()
    assert [s["sessionId"] for s in as_mentor["sessions"]] == [session_id]
    assert (await (await ana.get("/api/mentoring/sessions?role=mentee")).json())["sessions"] == []
    assert (await (await carla.get("/api/mentoring/sessions")).json())["sessions"] == []

    # Notes written by one side are read by the other.
    noted = await ana.patch(
        f"/api/mentoring/sessions/{session_id}",
        json={"action": "update_notes", "notes": "Bring the schema"},
    )
    assert noted.status == 200, await noted.text()
    seen = await (await ben.get(f"/api/mentoring/sessions/{session_id}")).json()
    assert seen["session"]["notes"] == "Bring the schema"

    # Ben cancels with a reason; Ana sees who and why; the slot is free again.
    cancelled = await ben.patch(
        f"/api/mentoring/sessions/{session_id}",
        json={"action": "cancel", "reason": "Travelling that week", "sessionId": session_id},
    )
    assert cancelled.status == 200, await cancelled.text()
    view = (await (await ana.get(f"/api/mentoring/sessions/{session_id}")).json())["session"]
    assert view["status"] == "cancelled"
    assert view["cancelledBy"] == "ben@example.org"
    assert view["cancelReason"] == "Travelling that week"
    again = await ana.patch(
        f"/api/mentoring/sessions/{session_id}", json={"action": "cancel", "reason": "again"}
    )
    assert again.status == 409
    listed = await (await ana.get("/api/mentoring/sessions?status=cancelled")).json()
    assert [s["sessionId"] for s in listed["sessions"]] == [session_id]
    rebook = await carla.post(
        "/api/mentoring/sessions",
        json={
            "mentorEmail": "ana.lopez@example.org",
            "scheduledAt": start,
            "duration": 30,
            "topic": "Career advice",
        },
    )
    assert rebook.status == 201, await rebook.text()


async def test_sessions_past_their_end_read_as_completed(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    ana = await signed_in(aiohttp_client, server, "ana@example.org")
    ben = await signed_in(aiohttp_client, server, "ben@example.org")
    await become_mentor(ana)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    past = Session(
        session_id="pastSession1",
        mentor_email="ana@example.org",
        mentee_email="ben@example.org",
        scheduled_at=start,
        duration=30,
        topic="Last week's talk",
    )
    await server.app[keys.STORE].create_session(past)  # the API refuses past bookings

    view = await (await ben.get("/api/mentoring/sessions/pastSession1")).json()
    assert view["session"]["status"] == "completed"
    done = await (await ana.get("/api/mentoring/sessions?status=completed")).json()
    assert [s["sessionId"] for s in done["sessions"]] == ["pastSession1"]
    upcoming = await (await ana.get("/api/mentoring/sessions?status=scheduled")).json()
    assert upcoming["sessions"] == []
    cancel = await ben.patch(
        "/api/mentoring/sessions/pastSession1", json={"action": "cancel", "reason": "late"}
    )
    assert cancel.status == 409


async def test_discover_paginates_enabled_mentors_only(
    aiohttp_client: AiohttpClient, server: TestServer
) -> None:
    viewer = await signed_in(aiohttp_client, server, "viewer@example.org")
    for i, rate in enumerate((0, 40, 0)):
        mentor = await signed_in(aiohttp_client, server, f"mentor{i}@example.org")
        await become_mentor(mentor, hourlyRate=rate, name=f"Mentor {i}")
    hidden = await signed_in(aiohttp_client, server, "hidden@example.org")
    await become_mentor(hidden)
    off = await hidden.patch("/api/mentoring/profile", json={"enabled": False})
    assert off.status == 200

    page1 = await (await viewer.get("/api/mentoring/discover?limit=2")).json()
    page2 = await (await viewer.get("/api/mentoring/discover?limit=2&page=2")).json()
    assert page1["total"] == page2["total"] == 3
    names = [m["name"] for m in page1["mentors"] + page2["mentors"]]
    assert names == ["Mentor 0", "Mentor 1", "Mentor 2"]
    free = await (await viewer.get("/api/mentoring/discover?freeOnly=true")).json()
    assert [m["name"] for m in free["mentors"]] == ["Mentor 0", "Mentor 2"]
    none = await (await viewer.get("/api/mentoring/discover?expertise=cobol")).json()
    assert none == {"mentors": [], "total": 0, "page": 1, "limit": 20}
