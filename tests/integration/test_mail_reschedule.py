"""A moved session's e-mail end to end: the move's notices and invitation update arrive at a
real SMTP server (aiosmtpd), the invitation keeps the booking's UID with a rising SEQUENCE,
the move brings reminders for the new time, and the old time's reminders are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import MailSettings
from panamia.app import create_app
from store.models import MailKind
from tests.conftest import SettingsFactory
from tests.integration.test_mail import (
    MENTEE,
    MENTOR,
    booked_pair,
    invitation,
    only_event,
    wait_for_kind,
)
from tests.support.apiclient import Client, slot, user
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web import keys
from web.mail.sender import MailSender, SmtpTransport
from web.services.notify import session_sequence


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


async def move(client: Client, session_id: str, start: str) -> int:
    answer = await client.post(
        f"/api/mentoring/sessions/{session_id}/reschedule", json={"scheduledAt": start}
    )
    return answer.status


async def test_moves_and_cancel_update_one_calendar_event(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    server = await aiohttp_server(create_app(make_settings(mail=mail_settings(port))))
    first, second, third = slot(10), slot(14), slot(9, days=4)
    ana, ben, session_id = await booked_pair(aiohttp_client, server, first)
    uid = f"{session_id}@localhost"
    booked_uids = {
        str(only_event(invitation(m)[1])["UID"]) for m in await wait_for_kind(recorder, "booked", 2)
    }
    assert booked_uids == {uid}

    # The mentee moves it: both people hear who moved it, from when to when.
    assert await move(ben, session_id, second) == 200
    notices = await wait_for_kind(recorder, "rescheduled", 2)
    assert sorted(m["To"] for m in notices) == [MENTOR, MENTEE]
    for message in notices:
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert ("moved by you" in text) == (message["To"] == MENTEE)
        assert "It was: " in text and f"{moment(first):%H:%M}" in text.split("It was: ")[1]
        assert f"When: {moment(second):%A %d %B %Y, %H:%M}" in text
        assert f"/mentoring/session/{session_id}" in text
        method, cal = invitation(message)
        assert method == "REQUEST" and cal["METHOD"] == "REQUEST"
        event = only_event(cal)
        assert str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == moment(second)
        assert event.decoded("DTEND") - moment(second) == timedelta(hours=1)

    # The mentor moves it again: SEQUENCE 2.
    assert await move(ana, session_id, third) == 200
    notices = await wait_for_kind(recorder, "rescheduled", 4)
    latest = [m for m in notices if str(m["X-Panamia-Message"]).split(":")[2] == "2"]
    assert sorted(m["To"] for m in latest) == [MENTOR, MENTEE]
    for message in latest:
        event = only_event(invitation(message)[1])
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 2)
        assert event.decoded("DTSTART") == moment(third)

    # A move onto a taken time is refused and tells nobody anything.
    carla = await user(aiohttp_client, server, "carla@example.org")
    booked = await carla.post(
        "/api/mentoring/sessions",
        json={"mentorEmail": MENTOR, "scheduledAt": first, "duration": 60, "topic": "Other"},
    )
    assert booked.status == 201, await booked.text()
    assert await move(ben, session_id, first) == 409
    store = server.app[keys.STORE]
    queued = await store.list_mail_for(MENTEE)
    assert not [m for m in queued if m.kind is MailKind.RESCHEDULED and m.sequence > 2]

    # Reminders: one set per sequence was queued; when they all come due, only those of the
    # current time (sequence 2) are sent, the earlier ones are skipped.
    leads = sorted({m.due_at for m in queued if m.kind is MailKind.REMINDER and m.sequence == 2})
    assert leads == [moment(third) - timedelta(hours=24), moment(third) - timedelta(minutes=15)]
    assert {m.sequence for m in queued if m.kind is MailKind.REMINDER} == {0, 1, 2}
    settings = MailSettings(**mail_settings(port))
    sender = MailSender(
        store,
        settings,
        SmtpTransport(settings),
        sequence_of=session_sequence,
        clock=lambda: moment(third) - timedelta(minutes=10),
    )
    before = len(recorder.messages)
    while await sender.run_once():
        pass
    reminders = [str(m["X-Panamia-Message"]) for m in recorder.messages[before:]]
    ours = sorted(i for i in reminders if i.startswith(f"{session_id}:"))
    assert all(i.startswith(f"{session_id}:reminder:2:") for i in ours), ours
    assert len(ours) == 4  # two lead times, two people
    # Eight of the earlier sequences, and Carla's four: her session began a day earlier.
    assert sender.counts["skipped"] == 12

    # Cancelling after two moves: METHOD:CANCEL, same UID, SEQUENCE 3.
    cancelled = await ben.patch(
        f"/api/mentoring/sessions/{session_id}", json={"action": "cancel", "reason": "Ill"}
    )
    assert cancelled.status == 200, await cancelled.text()
    for message in await wait_for_kind(recorder, "cancelled", 2):
        method, cal = invitation(message)
        assert method == "CANCEL" and cal["METHOD"] == "CANCEL"
        event = only_event(cal)
        assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 3)
