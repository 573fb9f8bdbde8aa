"""The outbox sender against bad rows, slow servers and late reminders, with a real SMTP
server (aiosmtpd) and a real SQLite outbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.settings import MailSettings
from panamia.app import create_app
from store.models import MailKind, MailStatus, OutboxMessage, Session, utcnow
from store.sqlite import SqliteStore
from tests.conftest import SettingsFactory
from tests.support.apiclient import become_mentor, slot, user
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web import keys
from web.mail.messages import MailSite, reminders
from web.mail.sender import MailSender, SmtpTransport, build_email


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


def message(message_id: str, due_at: datetime, **fields: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "recipient": f"{message_id}@example.org",
        "subject": f"Message {message_id}",
        "text": "Hello",
        "kind": MailKind.BOOKED,
    }
    values.update(fields)
    return OutboxMessage(message_id=message_id, due_at=due_at, **values)


async def test_a_message_that_cannot_be_built_fails_once_and_never_blocks_the_others(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    store = SqliteStore(str(tmp_path / "poison.sqlite3"))
    await store.open()
    now = utcnow()
    # The oldest due row, so it is claimed first in every batch; a linefeed in the address
    # cannot go into a header.
    poison = message("poison", now - timedelta(minutes=5), recipient="x\n@example.org")
    # A row written before topics were checked: the subject is flattened, not fatal.
    legacy = message("legacy", now - timedelta(minutes=4), subject="Session booked: a\r\nBcc: x")
    good = [message(f"good{i}", now) for i in range(3)]
    await store.enqueue_mail([poison, legacy, *good])
    settings = MailSettings(**mail_settings(port))
    sender = MailSender(store, settings, SmtpTransport(settings), sequence_of=lambda s: 0)
    try:
        assert await sender.run_once() == 5
        assert await sender.run_once() == 0  # nothing left to retry: the bad row is failed
        [row] = await store.list_mail_for("x\n@example.org")
        assert row.status is MailStatus.FAILED and row.attempts == 1
        assert row.last_error is not None and "ValueError" in row.last_error
    finally:
        await store.close()
    delivered = sorted(str(m["X-Panamia-Message"]) for m in recorder.messages)
    assert delivered == ["good0", "good1", "good2", "legacy"]
    [flat] = [m for m in recorder.messages if m["X-Panamia-Message"] == "legacy"]
    assert flat["Subject"] == "Session booked: a Bcc: x" and flat["Bcc"] is None
    assert sender.counts["failed"] == 1 and sender.counts["sent"] == 4


async def test_a_forged_host_header_never_reaches_a_mailed_link(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    server = await aiohttp_server(create_app(make_settings()))
    ana = await user(aiohttp_client, server, "ana@example.org")
    await become_mentor(ana)
    ben = await user(aiohttp_client, server, "ben@example.org")
    forged = {"Host": "evil.example"}
    booked = await ben.post(
        "/api/mentoring/sessions",
        json={
            "mentorEmail": "ana@example.org",
            "scheduledAt": slot(10),
            "duration": 30,
            "topic": "Forged hosts",
        },
        headers=forged,
    )
    assert booked.status == 201, await booked.text()
    session_id = (await booked.json())["session"]["sessionId"]
    cancelled = await ben.patch(
        f"/api/mentoring/sessions/{session_id}",
        json={"action": "cancel", "reason": "Testing the links"},
        headers=forged,
    )
    assert cancelled.status == 200, await cancelled.text()
    rows = await server.app[keys.STORE].list_mail_for("ana@example.org")
    change_mail = [r for r in rows if r.session_id == session_id]
    assert {r.kind for r in change_mail} >= {MailKind.BOOKED, MailKind.CANCELLED}
    expected = f"{server.app[keys.SETTINGS].public_url}/mentoring/session/{session_id}"
    for row in change_mail:
        assert "evil.example" not in row.text + (row.ics or "")
        assert expected in row.text


async def test_message_id_is_stable_valid_and_date_is_set(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    settings = MailSettings(**mail_settings(port))
    row_id = "s1:booked:0:bob@example.com"
    first = build_email(message(row_id, utcnow()), settings.from_address, utcnow())
    again = build_email(message(row_id, utcnow()), settings.from_address, utcnow())
    header = str(first["Message-ID"])
    assert header == str(again["Message-ID"])  # every attempt, every node
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", header), header
    assert header != str(
        build_email(message("s1:booked:0:ann@example.com", utcnow()), "x@example.org", utcnow())[
            "Message-ID"
        ]
    )
    store = SqliteStore(str(tmp_path / "ids.sqlite3"))
    await store.open()
    sent_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    await store.enqueue_mail([message(row_id, sent_at - timedelta(minutes=1))])
    sender = MailSender(
        store, settings, SmtpTransport(settings), sequence_of=lambda s: 0, clock=lambda: sent_at
    )
    try:
        assert await sender.run_once() == 1
    finally:
        await store.close()
    [delivered] = recorder.messages
    assert str(delivered["Message-ID"]) == header
    assert parsedate_to_datetime(str(delivered["Date"])) == sent_at


async def test_a_reminder_due_before_the_start_but_sent_after_it_is_skipped(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    """After an outage, the 24-hour and 15-minute reminders are both still pending when the
    sender comes back after the session began: neither goes out."""
    recorder, port = smtp
    store = SqliteStore(str(tmp_path / "late.sqlite3"))
    await store.open()
    start = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)
    session = Session(
        session_id="late-session",
        mentor_email="ana@example.org",
        mentee_email="ben@example.org",
        scheduled_at=start,
        duration=30,
        topic="Late reminders",
    )
    site = MailSite(base_url="http://localhost:8080", reminder_lead_minutes=(15, 1440))
    outbox = reminders(session, sequence=0, site=site, profiles={}, now=start - timedelta(days=2))
    await store.create_session(session, outbox=outbox)
    settings = MailSettings(**mail_settings(port))
    clock = start + timedelta(minutes=5)
    sender = MailSender(
        store, settings, SmtpTransport(settings), sequence_of=lambda s: 0, clock=lambda: clock
    )
    try:
        assert await sender.run_once() == 4
    finally:
        await store.close()
    assert recorder.messages == []
    assert sender.counts["skipped"] == 4 and sender.counts["sent"] == 0


class SlowTransport:
    """Each send takes ``seconds`` on a fake clock (a slow SMTP server, without waiting)."""

    def __init__(self, inner: SmtpTransport, clock: list[datetime], seconds: float) -> None:
        self.inner, self.clock, self.seconds = inner, clock, seconds

    async def send(self, email: EmailMessage, outbox: OutboxMessage) -> None:
        await self.inner.send(email, outbox)
        self.clock[0] += timedelta(seconds=self.seconds)


async def test_a_batch_never_sends_past_its_lease(
    tmp_path: Any, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    store = SqliteStore(str(tmp_path / "lease.sqlite3"))
    await store.open()
    start = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    await store.enqueue_mail([message(f"m{i}", start) for i in range(5)])
    settings = MailSettings(**mail_settings(port, lease_s=100.0, timeout_s=20.0))
    clock = [start]
    sender = MailSender(
        store,
        settings,
        SlowTransport(SmtpTransport(settings), clock, 45.0),
        sequence_of=lambda s: 0,
        clock=lambda: clock[0],
    )
    try:
        # Two sends fit in the 100 s lease; the third would start with 10 s left.
        assert await sender.run_once() == 5
        assert len(recorder.messages) == 2
        assert await sender.run_once() == 0  # the rest is still leased: nobody else sends it
        clock[0] = start + timedelta(seconds=101)  # the lease ran out: claimed afresh
        assert await sender.run_once() == 3
        assert len(recorder.messages) == 4
    finally:
        await store.close()
    assert sender.counts["sent"] == 4
    assert len({str(m["X-Panamia-Message"]) for m in recorder.messages}) == 4


def test_the_lease_must_outlast_one_send() -> None:
    with pytest.raises(ValueError, match="lease_s"):
        MailSettings(lease_s=30.0, timeout_s=30.0)
