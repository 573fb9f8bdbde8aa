"""Every documented answer, checked on real requests against the generated OpenAPI document.

One journey drives the real app (sign-in, profile, discovery, booking, sessions, chat,
channel auth, ICE servers, the media relay, load-test sign-in) through successes and
failures. A middleware records every answer; each one must be documented for its path, method
and status, and its body must validate against the documented schema (JSON Schema 2020-12,
which OpenAPI 3.1 uses). The test fails if a documented operation was never exercised, so it
cannot pass by checking nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection
from jsonschema import Draft202012Validator
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from store.models import Recording, Session, utcnow
from tests.conftest import SettingsFactory
from tests.support.apiclient import MENTOR_PROFILE, Client, become_mentor, connect, slot, user
from tests.support.sessions import open_room_start
from web import keys
from web.api.errors import Handler
from web.body_limit import MAX_REQUEST_BODY

LOADTEST_TOKEN = "responses-loadtest-token"
MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"
OUTSIDER = "outsider@example.org"
WRITES_BURST = 40
SIGNIN_ADDRESS_BURST = 20
QUALITY_BURST = 3
OPERATOR = "ops@example.org"


@dataclass(frozen=True)
class Recorded:
    path: str
    method: str
    status: int
    content_type: str
    body: bytes


def recorder(log: list[Recorded]) -> Any:
    """Outermost middleware: what the client really received, per route template."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        resource = request.match_info.route.resource
        if resource is not None and isinstance(response, web.StreamResponse):
            # A streamed answer (a recording's file) is logged without its body.
            raw = response.body if isinstance(response, web.Response) else None
            body = raw if isinstance(raw, bytes) else b""
            log.append(
                Recorded(
                    resource.canonical,
                    request.method,
                    response.status,
                    response.content_type,
                    body,
                )
            )
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return record


async def relay_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def journey(server: TestServer, factory: AiohttpClient) -> None:
    """Each documented operation at least once, through its main successes and failures."""
    anon = await connect(factory, server)
    assert (await anon.get("/api/openapi.json")).status == 200
    assert (await anon.post("/api/auth/email", json={"email": "nope"})).status == 400
    assert (await anon.get("/auth/callback?token=bad", allow_redirects=False)).status == 302
    assert (await anon.get("/api/me")).status == 401
    assert (await anon.get("/api/mentoring/profile")).status == 401
    await check_oversize_bodies(anon)

    bearer = {"Authorization": f"Bearer {LOADTEST_TOKEN}"}
    loadtest = "/api/auth/loadtest"
    assert (await anon.post(loadtest, json={"email": "a@loadtest.invalid"})).status == 401
    assert (await anon.post(loadtest, json={"email": "a@x.org"}, headers=bearer)).status == 400
    ok = await anon.post(loadtest, json={"email": "a@loadtest.invalid"}, headers=bearer)
    assert ok.status == 200

    mentor = await user(factory, server, MENTOR)
    mentee = await user(factory, server, MENTEE)
    outsider = await user(factory, server, OUTSIDER)
    await check_profile(mentor)
    await check_availability(mentor)
    session_id = await check_booking(mentee)
    await check_slots_and_reschedule(mentor, mentee, outsider, session_id)
    await check_sessions(mentor, mentee, outsider, session_id)
    await check_cancel(server, mentor, mentee)
    await check_room_closed(mentee, session_id)
    open_sid = await open_session(server)
    await check_room_services(mentee, outsider, open_sid)
    await check_quality_and_console(factory, server, anon, mentee, outsider, open_sid)
    await check_recordings(server, mentor, mentee, outsider, open_sid)
    await check_loadtest_session(factory, server, anon)
    await check_calendar_feed(anon, mentee)
    assert (await mentor.post("/api/auth/signout")).status == 204
    assert (await anon.post("/api/auth/signout-everywhere")).status == 401
    assert (await outsider.post("/api/auth/signout-everywhere")).status == 204
    assert (await outsider.get("/api/me")).status == 401
    await check_rate_limits(factory, server, session_id)


WRITES = (
    ("PATCH", "/api/mentoring/profile"),
    ("PUT", "/api/mentoring/availability"),
    ("POST", "/api/mentoring/sessions"),
    ("PATCH", "/api/mentoring/sessions/{sessionId}"),
    ("POST", "/api/mentoring/sessions/{sessionId}/reschedule"),
    ("POST", "/api/calendar/token"),
    ("DELETE", "/api/calendar/token"),
)


async def check_rate_limits(factory: AiohttpClient, server: TestServer, session_id: str) -> None:
    """The documented 429s: a user out of writes is refused on every write operation, and
    sign-in links run out per e-mail address (field email) and per client (no field)."""
    writer = await user(factory, server, "writer@example.org")
    for _ in range(WRITES_BURST):
        assert (await writer.post("/api/calendar/token")).status == 201
    for method, path in WRITES:
        concrete = path.replace("{sessionId}", session_id)
        refused = await writer.request(method, concrete, json={})
        assert refused.status == 429, (method, path, await refused.text())
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await refused.json()).get("field") is None

    anon = await connect(factory, server)
    statuses = [
        (await anon.post("/api/auth/email", json={"email": "same@example.org"})).status
        for _ in range(6)
    ]
    assert statuses == [202] * 5 + [429]
    for attempt in range(SIGNIN_ADDRESS_BURST):
        answer = await anon.post("/api/auth/email", json={"email": f"n{attempt}@example.org"})
        if answer.status == 429:
            assert "field" not in await answer.json()
            assert int(answer.headers["Retry-After"]) >= 1
            return
    raise AssertionError("the client address never ran out of sign-in links")


async def check_oversize_bodies(anon: Client) -> None:
    """Every operation with a body, sent one past the server's limit: the declared 413."""
    document = await (await anon.get("/api/openapi.json")).json()
    oversize = b"x" * (MAX_REQUEST_BODY + 1)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            concrete = re.sub(r"\{\w+\}", "abc", path)
            headers = {"Content-Type": "application/json"}
            response = await anon.request(method, concrete, data=oversize, headers=headers)
            assert response.status == 413, (method, path, await response.text())


async def check_profile(mentor: Client) -> None:
    assert (await mentor.get("/api/me")).status == 200
    assert (await mentor.get("/api/mentoring/profile")).status == 200
    bad = await mentor.patch("/api/mentoring/profile", json={**MENTOR_PROFILE, "bio": 5})
    assert bad.status == 400
    await become_mentor(mentor, goals=None, videoIntroUrl="https://video.example.org/m")


WEEKDAYS_9_TO_17 = {
    day: [{"start": "09:00", "end": "17:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


async def check_availability(mentor: Client) -> None:
    assert (await mentor.get("/api/mentoring/availability")).status == 200
    hours = {
        "timeZone": "Etc/UTC",
        "weekly": WEEKDAYS_9_TO_17,
        "bufferMinutes": 0,
        "minNoticeMinutes": 60,
        "horizonDays": 60,
        "durations": [30, 60],
    }
    saved = await mentor.put("/api/mentoring/availability", json=hours)
    assert saved.status == 200, await saved.text()
    bad = await mentor.put("/api/mentoring/availability", json={**hours, "bufferMinutes": 61})
    assert bad.status == 400


async def check_slots_and_reschedule(
    mentor: Client, mentee: Client, outsider: Client, sid: str
) -> None:
    slots = f"/api/mentoring/mentors/{MENTOR}/slots"
    assert (await mentee.get(f"{slots}?duration=60")).status == 200
    assert (await mentee.get(f"{slots}?duration=15")).status == 400
    assert (await mentee.get("/api/mentoring/mentors/nobody@example.org/slots")).status == 404
    assert (await outsider.get(f"{slots}?session={sid}")).status == 403
    move = f"/api/mentoring/sessions/{sid}/reschedule"
    assert (await outsider.post(move, json={"scheduledAt": slot(13)})).status == 403
    assert (await mentee.post(move, json={"scheduledAt": slot(20)})).status == 400
    nosuch = "/api/mentoring/sessions/nosuch/reschedule"
    assert (await mentee.post(nosuch, json={"scheduledAt": slot(13)})).status == 404
    moved = await mentee.post(move, json={"scheduledAt": slot(13)})
    assert moved.status == 200, await moved.text()
    other = await mentee.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": slot(15), "duration": 30, "topic": "Other"},
    )
    assert other.status == 201
    assert (await mentor.post(move, json={"scheduledAt": slot(15)})).status == 409


async def check_booking(mentee: Client) -> str:
    assert (await mentee.get("/api/mentoring/discover")).status == 200
    assert (await mentee.get("/api/mentoring/discover?limit=0")).status == 400

    booking = {"mentorEmail": MENTOR, "scheduledAt": slot(10), "duration": 60, "topic": "Queues"}
    booked = await mentee.post("/api/mentoring/sessions", json=booking)
    assert booked.status == 201, await booked.text()
    assert (await mentee.post("/api/mentoring/sessions", json=booking)).status == 409
    wrong = await mentee.post("/api/mentoring/sessions", json={**booking, "duration": "60"})
    assert wrong.status == 400
    nobody = {**booking, "mentorEmail": "nobody@example.org"}
    assert (await mentee.post("/api/mentoring/sessions", json=nobody)).status == 404
    session_id: str = (await booked.json())["session"]["sessionId"]
    return session_id


async def check_sessions(mentor: Client, mentee: Client, outsider: Client, sid: str) -> None:
    assert (await mentor.get("/api/mentoring/sessions")).status == 200
    assert (await mentor.get("/api/mentoring/sessions?role=boss")).status == 400
    one = f"/api/mentoring/sessions/{sid}"
    assert (await mentee.get(one)).status == 200
    assert (await outsider.get(one)).status == 403
    assert (await mentee.get("/api/mentoring/sessions/nosuchsession")).status == 404
    notes = {"action": "update_notes", "notes": "Agenda"}
    assert (await mentor.patch(one, json=notes)).status == 200
    assert (await mentor.patch(one, json={"action": "dance"})).status == 400
    assert (await outsider.patch(one, json=notes)).status == 403
    assert (await mentor.patch("/api/mentoring/sessions/nosuch", json=notes)).status == 404
    chat = f"{one}/chat"
    assert (await mentee.get(chat)).status == 200
    assert (await outsider.get(chat)).status == 403
    assert (await mentee.get("/api/mentoring/sessions/nosuch/chat")).status == 404


async def check_cancel(server: TestServer, mentor: Client, mentee: Client) -> None:
    """Both 409s of a cancel: a move let in between the handler's read and its write (a
    fault injected into the store) is code session_changed; a session already cancelled
    is field action."""
    booking = {"mentorEmail": MENTOR, "scheduledAt": slot(16), "duration": 30, "topic": "Dropped"}
    booked = await mentee.post("/api/mentoring/sessions", json=booking)
    assert booked.status == 201, await booked.text()
    one = f"/api/mentoring/sessions/{(await booked.json())['session']['sessionId']}"
    store = server.app[keys.STORE]
    cancel_for_real = store.cancel_session

    async def moved_in_between(*args: Any, **kwargs: Any) -> Session:
        moved = await mentor.post(f"{one}/reschedule", json={"scheduledAt": slot(16, 30)})
        assert moved.status == 200, await moved.text()
        return await cancel_for_real(*args, **kwargs)

    cancel = {"action": "cancel", "reason": "Not needed"}
    store.cancel_session = moved_in_between  # type: ignore[method-assign]
    try:
        lost = await mentee.patch(one, json=cancel)
    finally:
        store.cancel_session = cancel_for_real  # type: ignore[method-assign]
    assert lost.status == 409 and (await lost.json())["code"] == "session_changed"
    assert (await mentee.patch(one, json=cancel)).status == 200
    assert (await mentor.patch(one, json=cancel)).status == 409


async def open_session(server: TestServer) -> str:
    """A session of MENTOR and MENTEE whose room is open now (booking only takes future
    times, so it is created in the store)."""
    session_id = uuid.uuid4().hex
    await server.app[keys.STORE].create_session(
        Session(session_id, MENTOR, MENTEE, open_room_start(), 30, "Open room")
    )
    return session_id


async def check_room_closed(mentee: Client, sid: str) -> None:
    """The booked session is days away: its room refuses with the reason."""
    form = {"socket_id": "1.2", "channel_name": f"private-session-{sid}"}
    early = await mentee.post("/api/pusher/auth", data=form)
    assert early.status == 403
    assert "not open yet" in (await early.json())["error"]
    offer = await mentee.post(f"/api/relay/sessions/{sid}/offer", json={"sdp": "v=0\r\n"})
    assert offer.status == 403


async def check_loadtest_session(factory: AiohttpClient, server: TestServer, anon: Client) -> None:
    path = "/api/auth/loadtest/session"
    body = {"mentorEmail": "m@loadtest.invalid", "topic": "Load test"}
    assert (await anon.post(path, json=body)).status == 401
    real = await user(factory, server, "real@example.org")
    assert (await real.post(path, json=body)).status == 403
    tester = await user(factory, server, "t@loadtest.invalid")
    assert (await tester.post(path, json={**body, "mentorEmail": "x@y.org"})).status == 400
    made = await tester.post(path, json=body)
    assert made.status == 201, await made.text()
    assert (await tester.post(path, json=body)).status == 409


async def check_room_services(mentee: Client, outsider: Client, sid: str) -> None:
    assert (await mentee.get("/api/ice-servers")).status == 200
    auth = "/api/pusher/auth"
    for channel in (f"private-session-{sid}", f"presence-session-{sid}"):
        signed = await mentee.post(auth, data={"socket_id": "1.2", "channel_name": channel})
        assert signed.status == 200
    assert (await mentee.post(auth, data={"socket_id": "x", "channel_name": "c"})).status == 400
    other = {"socket_id": "1.2", "channel_name": "private-other"}
    assert (await mentee.post(auth, data=other)).status == 403

    offer_path = f"/api/relay/sessions/{sid}/offer"
    leave_path = f"/api/relay/sessions/{sid}/leave"
    assert (await mentee.post(offer_path, json={"type": "offer"})).status == 400
    huge_sdp = {"sdp": "v=0\r\n" + "a=x\r\n" * 20_000, "type": "offer"}  # 100 KiB > 64 KiB
    assert (await mentee.post(offer_path, json=huge_sdp)).status == 413
    assert (await outsider.post(offer_path, json={"sdp": "v=0\r\n"})).status == 403
    missing = "/api/relay/sessions/nosuch/offer"
    assert (await mentee.post(missing, json={"sdp": "v=0\r\n"})).status == 404
    pc, sdp = await relay_offer()
    try:
        answered = await mentee.post(offer_path, json={"sdp": sdp, "type": "offer"})
        assert answered.status == 200, await answered.text()
        assert (await mentee.post(leave_path)).status == 200
    finally:
        await pc.close()
    assert (await outsider.post(leave_path)).status == 403


QUALITY = {"connectionId": "journey-1", "path": "direct", "rttMs": 12.5, "bitrateInKbps": 800}


async def check_quality_and_console(
    factory: AiohttpClient,
    server: TestServer,
    anon: Client,
    mentee: Client,
    outsider: Client,
    sid: str,
) -> None:
    """The room's quality report and every operator route, refused to everyone else."""
    report = f"/api/mentoring/sessions/{sid}/quality"
    assert (await anon.post(report, json=QUALITY)).status == 401
    assert (await outsider.post(report, json=QUALITY)).status == 403
    assert (await mentee.post("/api/mentoring/sessions/nosuch/quality", json=QUALITY)).status == 404
    assert (await mentee.post(report, json={**QUALITY, "lossPct": 101})).status == 400
    for _ in range(QUALITY_BURST):
        assert (await mentee.post(report, json=QUALITY)).status == 200
    assert (await mentee.post(report, json=QUALITY)).status == 429

    operator = await user(factory, server, OPERATOR)
    paths = (
        "/api/admin/live",
        "/api/admin/sessions",
        f"/api/admin/sessions/{sid}",
        "/api/admin/relay",
    )
    for path in paths:
        assert (await anon.get(path)).status == 401
        assert (await mentee.get(path)).status == 403
        assert (await operator.get(path)).status == 200, path
    assert (await operator.get("/api/admin/sessions?from=yesterday")).status == 400
    assert (await operator.get("/api/admin/sessions/nosuch")).status == 404


async def check_recordings(
    server: TestServer, mentor: Client, mentee: Client, outsider: Client, sid: str
) -> None:
    """The consent flow's answers, then a recorded part's file and deletion."""
    base = f"/api/mentoring/sessions/{sid}/recordings"
    assert (await outsider.get(base)).status == 403
    assert (await outsider.post(f"{base}/request")).status == 403
    assert (await mentee.get("/api/mentoring/sessions/nosuch/recordings")).status == 404
    listed = await mentee.get(base)
    assert listed.status == 200 and (await listed.json())["state"] == "idle"
    assert (await mentee.post(f"{base}/stop")).status == 409
    assert (await mentee.post(f"{base}/request")).status == 202
    assert (await mentee.post(f"{base}/request")).status == 409
    assert (await mentee.post(f"{base}/answer", json={"accept": True})).status == 409
    assert (await mentor.post(f"{base}/answer", json={"accept": "yes"})).status == 400
    refused = await mentor.post(f"{base}/answer", json={"accept": False})
    assert refused.status == 200 and (await refused.json())["state"] == "idle"
    assert (await mentee.post(f"{base}/request")).status == 202
    accepted = await mentor.post(f"{base}/answer", json={"accept": True})
    assert accepted.status == 200 and (await accepted.json())["state"] == "starting"
    assert (await mentee.post(f"{base}/stop")).status == 200

    service = server.app[keys.RECORDINGS]
    part = Recording("rec1", sid, MENTEE, f"{sid}/part.webm", utcnow(), utcnow(), 1.0, 4)
    service.path_of(part).parent.mkdir(parents=True, exist_ok=True)
    service.path_of(part).write_bytes(b"webm")
    await server.app[keys.STORE].add_recording(part)
    file_path = f"{base}/rec1/file"
    assert (await outsider.get(file_path)).status == 403
    assert (await mentee.get(f"{base}/nosuch/file")).status == 404
    got = await mentor.get(f"{file_path}?download=1")
    assert got.status == 200 and await got.read() == b"webm"
    assert "attachment" in got.headers["Content-Disposition"]
    assert (await outsider.delete(f"{base}/rec1")).status == 403
    assert (await mentee.delete(f"{base}/rec1")).status == 204
    assert (await mentee.delete(f"{base}/rec1")).status == 404


async def check_calendar_feed(anon: Client, mentee: Client) -> None:
    token = "/api/calendar/token"
    assert (await anon.post(token)).status == 401
    assert (await mentee.delete(token)).status == 404
    created = await mentee.post(token)
    assert created.status == 201
    assert (await anon.delete(token)).status == 401
    assert (await mentee.delete(token)).status == 204


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, make_settings: SettingsFactory) -> Any:
    limits = {
        "writes_burst": WRITES_BURST,
        "signin_address_burst": SIGNIN_ADDRESS_BURST,
        "quality_burst": QUALITY_BURST,
    }
    settings = make_settings(
        auth={"loadtest_token": LOADTEST_TOKEN}, limits=limits, admin={"emails": [OPERATOR]}
    )
    app = create_app(settings)
    log: list[Recorded] = []
    app.middlewares.insert(0, recorder(log))
    return await aiohttp_server(app), log


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose #/components/... references resolve in ``document``."""
    return Draft202012Validator({**schema, "components": document["components"]})


async def test_every_documented_answer_matches_the_document(
    server: tuple[TestServer, list[Recorded]], aiohttp_client: AiohttpClient
) -> None:
    test_server, log = server
    await journey(test_server, aiohttp_client)
    document = json.loads(next(r.body for r in log if r.path == "/api/openapi.json"))

    problems: list[str] = []
    exercised: set[tuple[str, str]] = set()
    statuses: set[tuple[str, str, str]] = set()
    for answer in log:
        operation = document["paths"].get(answer.path, {}).get(answer.method.lower())
        if operation is None:
            continue  # pages, static files: not part of the API
        exercised.add((answer.path, answer.method.lower()))
        statuses.add((answer.path, answer.method.lower(), str(answer.status)))
        where = f"{answer.method} {answer.path} -> {answer.status}"
        documented = operation["responses"].get(str(answer.status))
        if documented is None:
            problems.append(f"{where}: status not documented")
            continue
        content = documented.get("content")
        if content is None:
            continue
        if answer.content_type != "application/json":
            problems.append(f"{where}: sent {answer.content_type}, documented JSON")
            continue
        schema = content["application/json"]["schema"]
        for failure in schema_validator(document, schema).iter_errors(json.loads(answer.body)):
            problems.append(f"{where}: {failure.message} at {list(failure.absolute_path)}")

    assert problems == []
    documented_operations = {
        (path, method) for path, item in document["paths"].items() for method in item
    }
    assert documented_operations - exercised == set(), "documented but never exercised"
    successes = {
        (path, method, status)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
        if status[0] in "23"
    }
    assert successes - statuses == set(), "a documented success was never exercised"
