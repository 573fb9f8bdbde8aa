"""What the outbox sender retries and what it gives up on, against a real SMTP server
(aiosmtpd) and a real SQLite outbox.

Only a refusal of the message itself is final (the recipient at RCPT, the message at DATA,
with 5xx). A refused login, a refused sender, 4xx answers and an unreachable server are
retried with jittered backoff. The sender runs on a test clock that jumps past each backoff,
so the tests never sleep through one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog

from config.settings import MailSettings, Secret
from store.models import MailKind, MailStatus, OutboxMessage, utcnow
from store.sqlite import SqliteStore
from tests.support.procs import free_port
from tests.support.smtp import Recorder, mail_settings, smtp_server
from web.mail.sender import MailSender, SmtpTransport, retry_delay

TO = "reader@example.org"
LOGIN = ("panamia", "s3cret-Pa55")
PAST_ANY_BACKOFF_S = mail_settings(0)["retry_max_s"] + 1


class Clock:
    """A clock the test moves: past the longest backoff after each round."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def jump(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def store(tmp_path: Any) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(str(tmp_path / "outbox.sqlite3"))
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[Recorder, int]]:
    with smtp_server(login=LOGIN) as running_server:
        yield running_server


def sender_for(store: SqliteStore, port: int, clock: Clock, **extra: Any) -> MailSender:
    settings = MailSettings(**mail_settings(port, max_attempts=5, **extra))
    return MailSender(
        store,
        settings,
        SmtpTransport(settings),
        sequence_of=lambda s: 0,
        clock=clock,
        rand=lambda: 0.5,
    )


async def queued(store: SqliteStore, clock: Clock) -> None:
    await store.enqueue_mail(
        [
            OutboxMessage(
                message_id="m1",
                recipient=TO,
                subject="Session booked",
                text="Hello",
                kind=MailKind.BOOKED,
                due_at=clock(),
            )
        ]
    )


async def row(store: SqliteStore) -> OutboxMessage:
    [found] = await store.list_mail_for(TO)
    return found


async def run_rounds(sender: MailSender, store: SqliteStore, clock: Clock, rounds: int) -> None:
    """Up to ``rounds`` sender passes, each after the previous backoff has run out."""
    for _ in range(rounds):
        await sender.run_once()
        if (await row(store)).status is not MailStatus.PENDING:
            return
        clock.jump(PAST_ANY_BACKOFF_S)


async def test_a_refused_login_is_retried_logged_for_the_operator_and_then_sent(
    store: SqliteStore, smtp_with_login: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_with_login
    recorder.refuse_login_next(2)  # someone is fixing the password meanwhile
    clock = Clock()
    sender = sender_for(store, port, clock, username=LOGIN[0], password=Secret(LOGIN[1]))
    await queued(store, clock)
    with structlog.testing.capture_logs() as logs:
        await run_rounds(sender, store, clock, rounds=5)
    sent = await row(store)
    assert sent.status is MailStatus.SENT and sent.attempts == 3
    assert recorder.logins_refused == 2 and [m["To"] for m in recorder.messages] == [TO]
    assert sent.last_error is not None and "535" in sent.last_error
    assert sender.counts["retried"] == 2 and sender.counts["failed"] == 0
    auth_failures = [e for e in logs if e["event"] == "mail.smtp_auth_failed"]
    assert len(auth_failures) == 2
    assert auth_failures[0]["username"] == LOGIN[0] and auth_failures[0]["code"] == 535
    assert LOGIN[1] not in repr(logs)


# (what the server refuses, its answer, the outbox row's final status, attempts it took)
REFUSALS = {
    "a refused sender address is retried": (
        "sender",
        "553 5.7.1 sender not allowed",
        MailStatus.SENT,
        2,
    ),
    "a refused recipient fails after one attempt": (
        "recipient",
        "550 5.1.1 no such user",
        MailStatus.FAILED,
        1,
    ),
    "a recipient refused for now is retried": (
        "recipient",
        "450 4.2.1 mailbox busy",
        MailStatus.SENT,
        2,
    ),
    "a message refused at DATA fails after one attempt": (
        "data",
        "550 5.7.1 message content rejected",
        MailStatus.FAILED,
        1,
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_what_a_refusal_costs_the_message(
    case: str, store: SqliteStore, smtp: tuple[Recorder, int]
) -> None:
    stage, answer, status, attempts = REFUSALS[case]
    recorder, port = smtp
    # A permanent refusal is repeated (5 times) to show it is not tried again; a temporary
    # or path refusal happens once, then the message goes through.
    times = 5 if status is MailStatus.FAILED else 1
    refuse = {
        "sender": recorder.refuse_sender_next,
        "recipient": recorder.refuse_recipient_next,
        "data": recorder.refuse_next,
    }[stage]
    refuse(times, answer)
    clock = Clock()
    sender = sender_for(store, port, clock)
    await queued(store, clock)
    await run_rounds(sender, store, clock, rounds=3)
    final = await row(store)
    assert final.status is status and final.attempts == attempts
    assert final.last_error is not None and answer[:3] in final.last_error
    refused = {
        "sender": recorder.senders_refused,
        "recipient": recorder.recipients_refused,
        "data": recorder.refused,
    }[stage]
    assert refused == 1
    assert len(recorder.messages) == (1 if status is MailStatus.SENT else 0)
    if status is MailStatus.FAILED:
        assert sender.counts["failed"] == 1 and sender.counts["retried"] == 0


async def test_an_unreachable_server_is_retried_until_max_attempts(store: SqliteStore) -> None:
    clock = Clock()
    sender = sender_for(store, free_port(), clock)  # nothing listens there
    await queued(store, clock)
    await sender.run_once()
    waiting = await row(store)
    assert waiting.status is MailStatus.PENDING and waiting.attempts == 1
    await run_rounds(sender, store, clock, rounds=10)
    failed = await row(store)
    assert failed.status is MailStatus.FAILED and failed.attempts == 5


async def test_the_backoff_is_jittered_and_the_sender_uses_its_random_source(
    store: SqliteStore,
) -> None:
    # Equal jitter: a random point in the upper half of the exponential backoff, never over
    # the maximum.
    assert retry_delay(1, 30, 3600, lambda: 0.0) == 15
    assert retry_delay(3, 30, 3600, lambda: 0.999999) == pytest.approx(120, abs=0.001)
    assert retry_delay(20, 30, 3600, lambda: 0.5) == 2700
    for attempts in range(1, 12):
        ceiling = min(3600, 30 * 2 ** (attempts - 1))
        assert ceiling / 2 <= retry_delay(attempts, 30, 3600, lambda: 0.37) <= ceiling
    clock = Clock()
    settings = MailSettings(**mail_settings(free_port(), retry_base_s=30.0, retry_max_s=3600.0))
    draws = iter([0.25, 0.75])
    sender = MailSender(
        store,
        settings,
        SmtpTransport(settings),
        sequence_of=lambda s: 0,
        clock=clock,
        rand=lambda: next(draws),
    )
    await queued(store, clock)
    await sender.run_once()
    first = await row(store)
    assert first.next_attempt_at == clock() + timedelta(seconds=15 + 15 * 0.25)
    clock.jump(60)
    await sender.run_once()
    second = await row(store)
    assert second.attempts == 2
    assert second.next_attempt_at == clock() + timedelta(seconds=30 + 30 * 0.75)
