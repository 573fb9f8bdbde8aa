"""Availability, free slots and reschedule through the real app: a mentor sets their hours,
a mentee sees only those slots, books, and either of them moves the session."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import Client, become_mentor, user

MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"
ZONE = ZoneInfo("Europe/Madrid")
SLOTS = f"/api/mentoring/mentors/{MENTOR}/slots"


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))


@pytest.fixture
async def mentor(aiohttp_client: AiohttpClient, server: TestServer) -> Client:
    client = await user(aiohttp_client, server, MENTOR)
    await become_mentor(client, timeZone="Asia/Calcutta")
    return client


@pytest.fixture
async def mentee(aiohttp_client: AiohttpClient, server: TestServer) -> Client:
    return await user(aiohttp_client, server, MENTEE)


def next_weekday(weekday: int, at_least: int = 3) -> date:
    day = datetime.now(ZONE).date() + timedelta(days=at_least)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> str:
    moment = datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


TUESDAY = next_weekday(1)
WEDNESDAY = TUESDAY + timedelta(days=1)
DAY_OFF = TUESDAY + timedelta(days=2)  # Thursday
WORK = [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "17:00"}]
HOURS: dict[str, Any] = {
    "timeZone": "Europe/Madrid",
    "weekly": {d: WORK for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
    "exceptions": [{"date": DAY_OFF.isoformat(), "ranges": []}],
    "bufferMinutes": 30,
    "minNoticeMinutes": 120,
    "horizonDays": 60,
    "durations": [30, 60],
}


def book(start: str, duration: int = 60) -> dict[str, Any]:
    return {"mentorEmail": MENTOR, "scheduledAt": start, "duration": duration, "topic": "Queues"}


async def json_of(response: Any, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_mentor_hours_slots_booking_and_reschedule(mentor: Client, mentee: Client) -> None:
    # Before saving: the default hours in the mentor's (canonical) zone.
    first = await json_of(await mentor.get("/api/mentoring/availability"), 200)
    assert first["availability"]["isDefault"] is True
    assert first["availability"]["timeZone"] == "Asia/Kolkata"
    assert first["availability"]["weekly"]["saturday"] == []

    saved = await json_of(await mentor.put("/api/mentoring/availability", json=HOURS), 200)
    assert saved["availability"]["isDefault"] is False
    assert saved["availability"]["weekly"]["monday"] == WORK
    assert saved["availability"]["exceptions"] == [{"date": DAY_OFF.isoformat(), "ranges": []}]

    # The public mentor JSON carries the availability for a profile page.
    found = await json_of(await mentee.get("/api/mentoring/discover"), 200)
    assert found["mentors"][0]["availability"]["bufferMinutes"] == 30

    # Slots: only inside the hours, lunch break and day off excluded, weekend off.
    query = f"?from={TUESDAY.isoformat()}&to={(TUESDAY + timedelta(days=5)).isoformat()}"
    slots = await json_of(await mentee.get(SLOTS + query + "&duration=60"), 200)
    assert slots["timeZone"] == "Europe/Madrid" and slots["duration"] == 60
    tuesday = [at(TUESDAY, h, m) for h in range(9, 12) for m in (0, 30)] + [at(TUESDAY, 12)]
    tuesday += [at(TUESDAY, h, m) for h in range(14, 16) for m in (0, 30)] + [at(TUESDAY, 16)]
    assert [s for s in slots["slots"] if s in tuesday] == tuesday
    assert at(TUESDAY, 12, 30) not in slots["slots"]  # would run into lunch
    assert not any(s.startswith(DAY_OFF.isoformat()) for s in slots["slots"])
    default_duration = await json_of(await mentee.get(SLOTS + query), 200)
    assert default_duration["duration"] == 30

    # Booking follows the same rules.
    outside = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 8))), 400
    )
    assert outside["field"] == "scheduledAt" and outside["code"] == "outside_availability"
    wrong = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 10), 90)), 400
    )
    assert wrong["field"] == "duration" and wrong["code"] == "duration_not_offered"
    booked = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 10))), 201
    )
    session = booked["session"]
    assert session["sequence"] == 0 and session["history"] == []

    # The booked hour and the buffer around it leave the list.
    after = await json_of(await mentee.get(SLOTS + query + "&duration=60"), 200)
    for gone in (at(TUESDAY, 9), at(TUESDAY, 10), at(TUESDAY, 11)):
        assert gone not in after["slots"]
    assert at(TUESDAY, 11, 30) in after["slots"]
    too_close = await json_of(
        await mentee.post(
            "/api/mentoring/sessions", json={**book(at(TUESDAY, 11)), "topic": "Other"}
        ),
        409,
    )
    assert too_close["code"] in ("mentee_busy", "mentor_busy")

    # The mentor moves it; the list for moving it excludes the session itself.
    sid = session["sessionId"]
    moving = await json_of(await mentor.get(f"{SLOTS}{query}&session={sid}"), 200)
    assert at(TUESDAY, 10) in moving["slots"] and moving["duration"] == 60
    move = f"/api/mentoring/sessions/{sid}/reschedule"
    moved = await json_of(await mentor.post(move, json={"scheduledAt": at(WEDNESDAY, 15)}), 200)
    assert moved["session"]["scheduledAt"] == at(WEDNESDAY, 15)
    assert moved["session"]["sequence"] == 1
    assert moved["session"]["history"] == [
        {
            "by": MENTOR,
            "at": moved["session"]["updatedAt"],
            "from": at(TUESDAY, 10),
            "to": at(WEDNESDAY, 15),
        }
    ]
    seen = await json_of(await mentee.get(f"/api/mentoring/sessions/{sid}"), 200)
    assert seen["session"]["history"] == moved["session"]["history"]

    # The mentee moves it again; rules apply to moves too.
    for target, code in (
        (at(DAY_OFF, 10), "outside_availability"),
        (at(WEDNESDAY, 13), "outside_availability"),
    ):
        refused = await json_of(await mentee.post(move, json={"scheduledAt": target}), 400)
        assert refused["code"] == code and refused["field"] == "scheduledAt"
    again = await json_of(await mentee.post(move, json={"scheduledAt": at(TUESDAY, 10)}), 200)
    assert again["session"]["sequence"] == 2 and len(again["session"]["history"]) == 2

    # Cancelled sessions do not move.
    cancel = {"action": "cancel", "reason": "Plans changed"}
    cancelled = await json_of(
        await mentee.patch(f"/api/mentoring/sessions/{sid}", json=cancel), 200
    )
    assert cancelled["session"]["sequence"] == 3
    late = await json_of(await mentee.post(move, json={"scheduledAt": at(WEDNESDAY, 9)}), 409)
    assert late["field"] == "sessionId"


async def test_a_move_and_a_booking_race_over_http(
    aiohttp_client: AiohttpClient, server: TestServer, mentor: Client, mentee: Client
) -> None:
    await json_of(await mentor.put("/api/mentoring/availability", json=HOURS), 200)
    booked = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 9))), 201
    )
    move = f"/api/mentoring/sessions/{booked['session']['sessionId']}/reschedule"
    rivals = [await user(aiohttp_client, server, f"rival{i}@example.org") for i in range(4)]
    target = at(WEDNESDAY, 10)
    answers = await asyncio.gather(
        mentee.post(move, json={"scheduledAt": target}),
        *(r.post("/api/mentoring/sessions", json=book(target)) for r in rivals),
    )
    statuses = sorted(a.status for a in answers)
    assert statuses.count(409) == len(answers) - 1, statuses
    assert statuses[0] in (200, 201)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HOURS, "bufferMinutes": "10"}, "bufferMinutes"),
        ({**HOURS, "weekly": {"monday": [{"start": 9, "end": "10:00"}]}}, "start"),
        ({**HOURS, "weekly": {"monday": [{"start": "09:00"}]}}, "end"),
        ({**HOURS, "weekly": {"monday": {"$ne": None}}}, "monday"),
        ({**HOURS, "durations": [45]}, "durations"),
        ({**HOURS, "timeZone": "Nowhere/Else"}, "timeZone"),
        ({**HOURS, "extra": 1}, "extra"),
        ({k: v for k, v in HOURS.items() if k != "weekly"}, "weekly"),
    ],
)
async def test_availability_put_names_the_field(mentor: Client, body: Any, field: str) -> None:
    refused = await json_of(await mentor.put("/api/mentoring/availability", json=body), 400)
    assert refused["field"] == field


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1]", b'{"timeZone": ' * 5000, b'{"weekly": ' + b"[" * 10000]
)
async def test_malformed_or_deep_bodies_are_400(mentor: Client, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    for path, method in (
        ("/api/mentoring/availability", mentor.put),
        ("/api/mentoring/sessions/abc/reschedule", mentor.post),
    ):
        response = await method(path, data=raw, headers=headers)
        assert response.status == 400, (path, await response.text())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=yesterday", "from"),
        ("?to=2020-13-01", "to"),
        ("?duration=45", "duration"),
        ("?duration=abc", "duration"),
        ("?duration=120", "duration"),  # valid length, not offered
        ("?from=2030-01-01&to=2029-12-01", "to"),
        ("?from=2030-01-01&to=2030-06-01", "to"),
        ("?session=../x", "session"),
        ("?color=red", "color"),
    ],
)
async def test_slots_parameters_name_the_field(
    mentor: Client, mentee: Client, query: str, field: str
) -> None:
    await json_of(await mentor.put("/api/mentoring/availability", json=HOURS), 200)
    refused = await json_of(await mentee.get(SLOTS + query), 400)
    assert refused["field"] == field


async def test_reschedule_body_rules(mentor: Client, mentee: Client) -> None:
    booked = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 10))), 201
    )
    move = f"/api/mentoring/sessions/{booked['session']['sessionId']}/reschedule"
    for body, field in (
        ({"scheduledAt": 5}, "scheduledAt"),
        ({"scheduledAt": "soon"}, "scheduledAt"),
        ({"scheduledAt": at(TUESDAY, 10, 15)}, "scheduledAt"),
        ({"scheduledAt": at(TUESDAY, 10)}, "scheduledAt"),  # its current time
        ({"scheduledAt": "2020-01-01T10:00:00Z"}, "scheduledAt"),
        ({}, "scheduledAt"),
        ({"scheduledAt": at(WEDNESDAY, 10), "duration": 30}, "duration"),
    ):
        refused = await json_of(await mentee.post(move, json=body), 400)
        assert refused["field"] == field, (body, refused)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=0001-01-01", "from"),
        ("?to=9999-12-31", "to"),
        ("?from=0001-01-01T00:00:00%2B14:00", "from"),
        ("?from=9999-12-31T23:30:00Z", "from"),
    ],
)
async def test_slots_at_the_ends_of_time(
    mentee: Client, mentor: Client, query: str, field: str
) -> None:
    refused = await json_of(await mentee.get(SLOTS + query), 400)
    assert refused["field"] == field


@pytest.mark.parametrize("moment", ["9999-12-31T23:30:00Z", "0001-01-01T00:00:00+14:00"])
async def test_booking_and_moving_at_the_ends_of_time(
    mentor: Client, mentee: Client, moment: str
) -> None:
    refused = await json_of(await mentee.post("/api/mentoring/sessions", json=book(moment)), 400)
    assert refused["field"] == "scheduledAt"
    booked = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 10))), 201
    )
    move = f"/api/mentoring/sessions/{booked['session']['sessionId']}/reschedule"
    refused = await json_of(await mentee.post(move, json={"scheduledAt": moment}), 400)
    assert refused["field"] == "scheduledAt"


async def test_a_mentor_moving_onto_the_mentees_other_session_hears_about_the_mentee(
    mentor: Client, mentee: Client
) -> None:
    await json_of(await mentor.put("/api/mentoring/availability", json=HOURS), 200)
    first = await json_of(
        await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 9))), 201
    )
    await json_of(await mentee.post("/api/mentoring/sessions", json=book(at(TUESDAY, 15))), 201)
    move = f"/api/mentoring/sessions/{first['session']['sessionId']}/reschedule"
    refused = await json_of(await mentor.post(move, json={"scheduledAt": at(TUESDAY, 15)}), 409)
    assert refused["code"] == "mentee_busy" and refused["field"] == "scheduledAt"
    assert refused["error"].startswith("The mentee already has a session")
    own = await json_of(await mentee.post(move, json={"scheduledAt": at(TUESDAY, 15)}), 409)
    assert own["error"].startswith("You already have a session")
