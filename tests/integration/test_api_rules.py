"""Every rule of the API, broken once: a 400 whose body names the field to blame, and nothing
stored. Typed-value checks include operator-injection bodies such as {"$ne": null}."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import Settings
from panamia.app import create_app
from tests.support.apiclient import MENTOR_PROFILE, Client, become_mentor, slot, user

MENTOR = "mentor@example.org"


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))


@pytest.fixture
async def mentor(aiohttp_client: AiohttpClient, server: TestServer) -> Client:
    client = await user(aiohttp_client, server, MENTOR)
    await become_mentor(client)
    return client


@pytest.fixture
async def mentee(aiohttp_client: AiohttpClient, server: TestServer) -> Client:
    return await user(aiohttp_client, server, "mentee@example.org")


async def assert_bad(response: Any, field: str) -> None:
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["field"] == field, body
    assert isinstance(body["error"], str) and body["error"]


# --- profile ------------------------------------------------------------------------------
PROFILE_CASES: list[tuple[str, object]] = [
    ("bio", "short"),
    ("bio", "b" * 501),
    ("bio", {"$ne": None}),
    ("expertise", []),
    ("expertise", [f"t{i}" for i in range(11)]),
    ("expertise", [""]),
    ("expertise", "Python"),
    ("expertise", [{"$regex": ".*"}]),
    ("languages", []),
    ("languages", [" "]),
    ("languages", None),
    ("videoIntroUrl", "javascript:alert(1)"),
    ("videoIntroUrl", "not a url"),
    ("goals", "g" * 501),
    ("hourlyRate", -5),
    ("hourlyRate", "free"),
    ("hourlyRate", {"$gt": 0}),
    ("enabled", "true"),
    ("timeZone", "Nowhere/Land"),
    ("name", ""),
    ("name", "Ana\nBcc: everyone@example.org"),
    ("name", "Ana\u2028Lopez"),
    ("avatarUrl", "file:///etc/passwd"),
    ("isAdmin", True),
]


@pytest.mark.parametrize(("field", "value"), PROFILE_CASES)
async def test_profile_rule_names_the_field(mentor: Client, field: str, value: object) -> None:
    response = await mentor.patch("/api/mentoring/profile", json={**MENTOR_PROFILE, field: value})
    await assert_bad(response, field)
    stored = (await (await mentor.get("/api/mentoring/profile")).json())["profile"]
    assert stored["mentoring"]["bio"] == MENTOR_PROFILE["bio"]  # nothing half-applied


@pytest.mark.parametrize("missing", ["bio", "expertise", "languages"])
async def test_enabling_an_incomplete_profile_names_the_gap(mentee: Client, missing: str) -> None:
    body = {k: v for k, v in MENTOR_PROFILE.items() if k != missing}
    await assert_bad(await mentee.patch("/api/mentoring/profile", json=body), missing)


async def test_profile_round_trip(mentor: Client) -> None:
    response = await mentor.patch(
        "/api/mentoring/profile",
        json={
            "timeZone": "America/Bogota",
            "videoIntroUrl": "https://video.example.org/intro",
            "goals": "Grow engineers",
            "hourlyRate": 25.5,
            "expertise": ["Go", "go", "Rust"],
        },
    )
    assert response.status == 200, await response.text()
    profile = (await (await mentor.get("/api/mentoring/profile")).json())["profile"]
    assert profile["timeZone"] == "America/Bogota"
    assert profile["mentoring"]["expertise"] == ["Go", "Rust"]
    assert profile["mentoring"]["hourlyRate"] == 25.5
    assert profile["mentoring"]["videoIntroUrl"] == "https://video.example.org/intro"
    cleared = await mentor.patch("/api/mentoring/profile", json={"videoIntroUrl": None})
    assert (await cleared.json())["profile"]["mentoring"]["videoIntroUrl"] is None


# --- booking ------------------------------------------------------------------------------
def booking(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "mentorEmail": MENTOR,
        "scheduledAt": slot(10),
        "duration": 30,
        "topic": "Interview practice",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


BOOKING_CASES: list[tuple[str, dict[str, object]]] = [
    ("mentorEmail", booking(mentorEmail={"$ne": None})),
    ("mentorEmail", booking(mentorEmail="not-an-address")),
    ("mentorEmail", booking(mentorEmail=...)),
    ("scheduledAt", booking(scheduledAt="2020-01-06T10:00:00Z")),  # past
    ("scheduledAt", booking(scheduledAt=slot(10, 15))),  # off the 30-minute grid
    ("scheduledAt", booking(scheduledAt=slot(8, 30))),  # before 09:00
    ("scheduledAt", booking(scheduledAt=slot(16, 30), duration=60)),  # ends after 17:00
    ("scheduledAt", booking(scheduledAt="next tuesday")),
    ("scheduledAt", booking(scheduledAt=slot(10).rstrip("Z"))),  # no offset
    ("scheduledAt", booking(scheduledAt={"$gt": ""})),
    ("duration", booking(duration=45)),
    ("duration", booking(duration="30")),
    ("duration", booking(duration=...)),
    ("topic", booking(topic="Hey")),
    ("topic", booking(topic="t" * 201)),
    ("topic", booking(topic=None)),
    ("topic", booking(topic="Interview\r\nBcc: everyone@example.org")),
    ("topic", booking(topic="Interview\x07practice")),
    ("status", booking(status="completed")),
    ("menteeEmail", booking(menteeEmail="someone@example.org")),
]


@pytest.mark.parametrize(("field", "body"), BOOKING_CASES)
async def test_booking_rule_names_the_field(
    mentor: Client, mentee: Client, field: str, body: dict[str, object]
) -> None:
    await assert_bad(await mentee.post("/api/mentoring/sessions", json=body), field)
    listed = await (await mentee.get("/api/mentoring/sessions")).json()
    assert listed["sessions"] == []


async def test_booking_yourself_names_mentor_email(mentor: Client) -> None:
    await assert_bad(await mentor.post("/api/mentoring/sessions", json=booking()), "mentorEmail")


async def test_booking_hours_follow_the_mentors_time_zone(mentor: Client, mentee: Client) -> None:
    tokyo = await mentor.patch("/api/mentoring/profile", json={"timeZone": "Asia/Tokyo"})
    assert tokyo.status == 200
    # 10:00 UTC is 19:00 in Tokyo: outside the mentor's hours.
    await assert_bad(await mentee.post("/api/mentoring/sessions", json=booking()), "scheduledAt")
    # 01:00 UTC is 10:00 in Tokyo.
    fine = await mentee.post("/api/mentoring/sessions", json=booking(scheduledAt=slot(1)))
    assert fine.status == 201, await fine.text()


@pytest.mark.parametrize("who", ["nobody@example.org", "mentee2@example.org"])
async def test_unknown_or_disabled_mentor_is_404_on_mentor_email(
    aiohttp_client: AiohttpClient, server: TestServer, mentee: Client, who: str
) -> None:
    await user(aiohttp_client, server, "mentee2@example.org")  # exists, mentoring disabled
    response = await mentee.post("/api/mentoring/sessions", json=booking(mentorEmail=who))
    assert response.status == 404
    assert (await response.json())["field"] == "mentorEmail"


# --- session updates ----------------------------------------------------------------------
UPDATE_CASES: list[tuple[str, dict[str, object]]] = [
    ("action", {}),
    ("action", {"action": "archive"}),
    ("action", {"action": {"$ne": None}}),
    ("notes", {"action": "update_notes"}),
    ("notes", {"action": "update_notes", "notes": "n" * 5001}),
    ("notes", {"action": "update_notes", "notes": {"$set": "x"}}),
    ("reason", {"action": "cancel"}),
    ("reason", {"action": "cancel", "reason": ""}),
    ("reason", {"action": "cancel", "reason": "r" * 501}),
    ("sessionId", {"action": "cancel", "reason": "ok", "sessionId": "another"}),
    ("status", {"action": "update_notes", "notes": "x", "status": "completed"}),
]


@pytest.mark.parametrize(("field", "body"), UPDATE_CASES)
async def test_session_update_rule_names_the_field(
    mentor: Client, mentee: Client, field: str, body: dict[str, object]
) -> None:
    created = await mentee.post("/api/mentoring/sessions", json=booking())
    session_id = (await created.json())["session"]["sessionId"]
    response = await mentee.patch(f"/api/mentoring/sessions/{session_id}", json=body)
    await assert_bad(response, field)
    view = (await (await mentor.get(f"/api/mentoring/sessions/{session_id}")).json())["session"]
    assert view["status"] == "scheduled" and view["notes"] == ""


# --- query strings ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("freeOnly=sometimes", "freeOnly"),
        ("page=0", "page"),
        ("limit=1000", "limit"),
        ("limit=abc", "limit"),
        ("expertise=" + "x" * 51, "expertise"),
        ("expertise[$ne]=x", "expertise[$ne]"),
        ("language=a&language=b", "language"),
    ],
)
async def test_discover_parameter_names_the_field(mentee: Client, query: str, field: str) -> None:
    await assert_bad(await mentee.get(f"/api/mentoring/discover?{query}"), field)


@pytest.mark.parametrize(
    ("query", "field"),
    [("role=owner", "role"), ("status=done", "status"), ("sort=asc", "sort")],
)
async def test_session_filter_names_the_field(mentee: Client, query: str, field: str) -> None:
    await assert_bad(await mentee.get(f"/api/mentoring/sessions?{query}"), field)


# --- bodies that are not objects ----------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "Invalid JSON body"),
        (b"\xff\xfe", "Invalid JSON body"),
        (b'{"hourlyRate": NaN}', "Invalid JSON body"),
        (b"[1, 2]", "The body must be a JSON object"),
        (b'"text"', "The body must be a JSON object"),
    ],
)
async def test_body_must_be_a_json_object(mentee: Client, raw: bytes, message: str) -> None:
    response = await mentee.patch(
        "/api/mentoring/profile", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == message
