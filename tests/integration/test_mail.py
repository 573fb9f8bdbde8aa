"""E-mail end to end: the app's outbox, its sender and a real SMTP server (aiosmtpd); the
attached invitations are read with the icalendar library, as a calendar client would."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import MailSettings
from panamia.app import create_app
from store.models import MailKind, MailStatus, OutboxMessage, Session, utcnow
from store.sqlite import SqliteStore
from tests.conftest import SettingsFactory
from tests.support.apiclient import Client, become_mentor, slot, user
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web import keys
from web.mail.messages import MailSite, reminders
from web.mail.sender import MailSender, SmtpTransport

MENTOR = "ana@example.org"
MENTEE = "ben@example.org"


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


def kind_of(message: EmailMessage) -> str:
    parts = str(message["X-Panamia-Message"]).split(":")
    return parts[0] if parts[0] == "signin" else parts[1]


async def wait_for_kind(recorder: Recorder, kind: str, count: int) -> list[EmailMessage]:
    for _ in range(400):
        found = [m for m in recorder.messages if kind_of(m) == kind]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} {kind} messages arrived")


def invitation(message: EmailMessage) -> tuple[str, icalendar.Calendar]:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.walk()]
    part = parts[0]
    assert part.get_filename("").endswith(".ics")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert b"\r\n" in payload
    return str(part.get_param("method")), icalendar.Calendar.from_ical(payload)


def only_event(cal: icalendar.Calendar) -> Any:
    """The one VEVENT (typed loosely: icalendar's property values are a wide union)."""
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    assert isinstance(events[0], icalendar.Event)
    return events[0]


async def booked_pair(
    aiohttp_client: AiohttpClient, server: TestServer, start: str
) -> tuple[Client, Client, str]:
    ana = await user(aiohttp_client, server, MENTOR)
    await become_mentor(ana)
    await ana.patch("/api/mentoring/profile", json={"name": "Ana Lopez"})
    ben = await user(aiohttp_client, server, MENTEE)
    booked = await ben.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": start, "duration": 60, "topic": "API, design"},
    )
    assert booked.status == 201, await booked.text()
    return ana, ben, str((await booked.json())["session"]["sessionId"])


async def test_booking_and_cancel_mail_both_people_with_invitations(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(port))))
    start = slot(10)
    _ana, ben, session_id = await booked_pair(aiohttp_client, server, start)

    booked = await wait_for_kind(recorder, "booked", 2)
    assert sorted(m["To"] for m in booked) == [MENTOR, MENTEE]
    for message in booked:
        assert message["From"] == "Pana Mia Live <no-reply@example.org>"
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        # No public_url, and the test server is not on the configured port: the default URL.
        origin = server.app[keys.SETTINGS].public_url
        assert f"{origin}/mentoring/session/{session_id}" in text
        method, cal = invitation(message)
        assert method == "REQUEST" and cal["METHOD"] == "REQUEST"
        event = only_event(cal)
        assert str(event["UID"]) == f"{session_id}@localhost"
        assert int(event["SEQUENCE"]) == 0
        assert event["STATUS"] == "CONFIRMED"
        begins = event.decoded("DTSTART")
        assert begins == datetime.fromisoformat(start.replace("Z", "+00:00"))
        assert begins.tzinfo is not None and begins.utcoffset() == timedelta(0)
        assert event.decoded("DTEND") - begins == timedelta(hours=1)
        assert str(event["SUMMARY"]) == "Mentoring: API, design"
        assert f"/mentoring/session/{session_id}" in str(event["DESCRIPTION"])
        assert str(event["ORGANIZER"]) == f"mailto:{MENTOR}"
        assert event["ORGANIZER"].params["CN"] == "Ana Lopez"
        attendees = {str(a): a.params for a in event["ATTENDEE"]}
        assert set(attendees) == {f"mailto:{MENTOR}", f"mailto:{MENTEE}"}
        assert attendees[f"mailto:{MENTEE}"]["ROLE"] == "REQ-PARTICIPANT"
        assert attendees[f"mailto:{MENTEE}"]["PARTSTAT"] == "NEEDS-ACTION"
        assert attendees[f"mailto:{MENTOR}"]["PARTSTAT"] == "ACCEPTED"

    # Reminders wait in the outbox for their time (24 h and 15 min before the start).
    queued = await server.app[keys.STORE].list_mail_for(MENTEE)
    due = sorted(m.due_at for m in queued if m.kind is MailKind.REMINDER)
    begins = datetime.fromisoformat(start.replace("Z", "+00:00"))
    assert due == [begins - timedelta(hours=24), begins - timedelta(minutes=15)]

    cancelled = await ben.patch(
        f"/api/mentoring/sessions/{session_id}",
        json={"action": "cancel", "reason": "Flight moved; sorry!"},
    )
    assert cancelled.status == 200, await cancelled.text()
    notices = await wait_for_kind(recorder, "cancelled", 2)
    assert sorted(m["To"] for m in notices) == [MENTOR, MENTEE]
    for message in notices:
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "Flight moved; sorry!" in text
        assert ("cancelled by you" in text) == (message["To"] == MENTEE)
        if message["To"] == MENTOR:
            assert "cancelled by ben@example.org" in text or "cancelled by Ben" in text
        method, cal = invitation(message)
        assert method == "CANCEL" and cal["METHOD"] == "CANCEL"
        event = only_event(cal)
        assert str(event["UID"]) == f"{session_id}@localhost"
        assert int(event["SEQUENCE"]) == 1
        assert event["STATUS"] == "CANCELLED"


async def test_a_refused_booking_sends_nothing(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(port))))
    start = slot(11)
    _ana, ben, _session_id = await booked_pair(aiohttp_client, server, start)
    again = await ben.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": start, "duration": 30, "topic": "Twice"},
    )
    assert again.status == 409
    await wait_for_kind(recorder, "booked", 2)
    await asyncio.sleep(0.5)
    assert len([m for m in recorder.messages if kind_of(m) == "booked"]) == 2


async def metric(client: Client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match is not None, name
    return float(match.group(1))


async def test_smtp_failures_are_retried_with_backoff_and_counted(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    recorder.refuse_next(2)
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(port))))
    client: Client = await aiohttp_client(server)
    response = await client.post("/api/auth/email", json={"email": "late@example.org"})
    assert response.status == 202
    (delivered,) = await wait_for_kind(recorder, "signin", 1)
    assert delivered["To"] == "late@example.org"
    assert recorder.refused == 2
    # The SMTP server has the message before the sender has its reply and records it: on a
    # loaded machine the row may still be pending for a moment.
    for _ in range(200):
        [row] = await server.app[keys.STORE].list_mail_for("late@example.org")
        if row.status is MailStatus.SENT and await metric(client, "panamia_mail_sent_total"):
            break
        await asyncio.sleep(0.05)
    assert row.status is MailStatus.SENT and row.attempts == 3
    assert row.last_error is not None and "451" in row.last_error
    assert await metric(client, "panamia_mail_retried_total") == 2
    assert await metric(client, "panamia_mail_sent_total") == 1
    assert await metric(client, "panamia_mail_failed_total") == 0
    assert await metric(client, "panamia_mail_queue_depth") == 0


async def test_a_permanent_refusal_fails_the_message_at_once(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    recorder.refuse_next(1, "550 5.1.1 no such user")
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(port))))
    client: Client = await aiohttp_client(server)
    await client.post("/api/auth/email", json={"email": "nobody@example.org"})
    store = server.app[keys.STORE]
    for _ in range(200):
        [row] = await store.list_mail_for("nobody@example.org")
        if row.status is MailStatus.FAILED:
            break
        await asyncio.sleep(0.05)
    assert row.status is MailStatus.FAILED and row.attempts == 1
    assert await metric(client, "panamia_mail_failed_total") == 1


def _session(start: datetime) -> Session:
    return Session(
        session_id="s-" + start.strftime("%H%M%S%f"),
        mentor_email=MENTOR,
        mentee_email=MENTEE,
        scheduled_at=start,
        duration=30,
        topic="Reminders",
    )


async def test_two_senders_on_one_store_never_deliver_twice(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    """Two nodes (two stores on one database file, two senders) share the outbox."""
    recorder, port = smtp
    path = str(tmp_path / "shared.sqlite3")
    first, second = SqliteStore(path), SqliteStore(path)
    await first.open()
    await second.open()
    settings = MailSettings(**mail_settings(port))
    now = utcnow()
    messages = [
        OutboxMessage(
            message_id=f"bulk-{i}",
            recipient=f"p{i}@example.org",
            subject=f"Message {i}",
            text="Hello",
            kind=MailKind.BOOKED,
            due_at=now,
        )
        for i in range(40)
    ]
    await first.enqueue_mail(messages)
    senders = [
        MailSender(store, settings, SmtpTransport(settings), sequence_of=lambda s: 0, owner=o)
        for store, o in ((first, "node-a"), (second, "node-b"))
    ]
    try:
        for sender in senders:
            sender.start()
        await asyncio.to_thread(recorder.wait_for, 40)
        # Each sender counts a message once the SMTP server's reply is in, after the server
        # has it; then a little longer, for any second copy to show.
        for _ in range(200):
            if sum(s.counts["sent"] for s in senders) >= 40:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    finally:
        for sender in senders:
            await sender.close()
        await first.close()
        await second.close()
    ids = [str(m["X-Panamia-Message"]) for m in recorder.messages]
    assert sorted(ids) == sorted(m.message_id for m in messages)
    assert sum(s.counts["sent"] for s in senders) == 40


async def test_reminders_of_a_cancelled_or_moved_session_are_skipped(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    store = SqliteStore(str(tmp_path / "r.sqlite3"))
    await store.open()
    start = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)
    site = MailSite(base_url="http://localhost:8080", reminder_lead_minutes=(15,))
    now = start - timedelta(days=1)
    kept, dropped = _session(start + timedelta(hours=2)), _session(start)
    for session in (kept, dropped):
        outbox = reminders(session, sequence=0, site=site, profiles={}, now=now)
        await store.create_session(session, outbox=outbox)
    await store.cancel_session(dropped.session_id, MENTEE, "No longer needed", now)
    settings = MailSettings(**mail_settings(port))
    clock = start + timedelta(hours=2) - timedelta(minutes=10)  # both reminders due
    sender = MailSender(
        store, settings, SmtpTransport(settings), sequence_of=lambda s: 0, clock=lambda: clock
    )
    try:
        while await sender.run_once():
            pass
    finally:
        await store.close()
    assert sorted(m["To"] for m in recorder.messages) == [MENTOR, MENTEE]
    assert {str(m["X-Panamia-Message"]).split(":")[0] for m in recorder.messages} == {
        kept.session_id
    }
    assert sender.counts == {"sent": 2, "retried": 0, "failed": 0, "skipped": 2}
