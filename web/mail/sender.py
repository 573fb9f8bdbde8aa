"""The outbox sender: claims due messages with a lease, delivers them, records the outcome.

Every node runs one :class:`MailSender`. The store's claim is atomic, so among several nodes
exactly one holds a message at a time; a node that dies mid-send loses its lease and another
node (or itself after a restart) takes the message over when the lease expires.

A failed SMTP attempt is retried with jittered exponential backoff until
``mail.max_attempts`` (:func:`retry_delay`). Apart from a message that cannot even be built,
only a refusal of the message itself fails it at once (:func:`is_permanent`): the recipient
refused with 5xx at RCPT, or the message refused with 5xx at DATA. Everything else is about
the path, not the message, and is retried: wrong credentials (535, logged as
``mail.smtp_auth_failed`` for the operator), a refused sender address (MAIL FROM 5xx, a
configuration problem), a server that cannot be reached, a timeout, any 4xx. Failing those
for good would throw away the whole outbox, reminders included, over a few minutes of
misconfiguration.

Handlers never wait for mail: they enqueue (in the same write as the change) and call
:meth:`MailSender.kick` so the loop looks at the outbox now instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

import aiosmtplib
import structlog

from config.settings import MailSettings
from store.base import Store, StoreError
from store.models import MailKind, MailStatus, OutboxMessage, Session, SessionStatus, utcnow

log = structlog.get_logger(__name__)

BATCH = 20


class Transport(Protocol):
    async def send(self, message: EmailMessage, outbox: OutboxMessage) -> None:
        """Deliver or raise."""


def start_tls_flag(tls: str) -> bool | None:
    """aiosmtplib's ``start_tls`` for a ``mail.tls`` mode: True requires the upgrade, None
    upgrades only when the server offers STARTTLS, False never upgrades."""
    if tls == "starttls":
        return True
    if tls == "opportunistic":
        return None
    return False


class SmtpTransport:
    """Delivery over SMTP with aiosmtplib (one connection per message: simple and robust)."""

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage, outbox: OutboxMessage) -> None:
        s = self._settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.username or None,
            password=s.password.reveal() if s.username else None,
            use_tls=s.tls == "tls",
            start_tls=start_tls_flag(s.tls),
            timeout=s.timeout_s,
        )


class LogTransport:
    """No SMTP configured: messages go to the log. Session mail (booked, moved, cancelled,
    reminders) with its text; a sign-in message without it, since its link is a secret (on
    a local server the page and the Messages page show it; elsewhere `panamia serve` refuses
    to start without SMTP)."""

    async def send(self, message: EmailMessage, outbox: OutboxMessage) -> None:
        secret = outbox.kind is MailKind.SIGNIN
        log.info(
            "mail.logged",
            to=outbox.recipient,
            subject=outbox.subject,
            kind=outbox.kind.value,
            message_id=outbox.message_id,
            session_id=outbox.session_id,
            text=None if secret else outbox.text,
        )


def message_id_header(outbox_id: str, from_address: str) -> str:
    """The same ``Message-ID`` on every node and every attempt for one outbox row, so a
    receiver can drop a copy re-sent after a crash mid-send: a hash of the row's id (which may
    hold ``@`` and ``:``) at the sender address's domain."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(outbox_id.encode()).hexdigest()[:32]}@{domain}>"


def build_email(outbox: OutboxMessage, from_address: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_address
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["To"] = outbox.recipient
    # Input is validated to one line, but a row written before that rule must not break a header.
    message["Subject"] = " ".join(outbox.subject.split())
    message["Message-ID"] = message_id_header(outbox.message_id, from_address)
    message["X-Panamia-Message"] = outbox.message_id
    message.set_content(outbox.text)
    if outbox.html:
        message.add_alternative(outbox.html, subtype="html")
    if outbox.ics:
        method = outbox.ics_method or "REQUEST"
        message.add_attachment(
            outbox.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if method != "CANCEL" else "cancel.ics",
            params={"method": method, "charset": "utf-8"},
        )
    return message


SequenceOf = Callable[[Session], int]


def is_permanent(exc: Exception) -> bool:
    """Whether the server refused this message for good: the recipient (RCPT 5xx, also when
    aiosmtplib reports every recipient refused, provided each refusal is 5xx) or the message
    itself (DATA 5xx). A refused login or sender, a 4xx answer or a connection problem is
    about the path or the configuration and is worth another try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return exc.code >= 500
    return False


def retry_delay(attempts: int, base_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number ``attempts``: exponential backoff
    (``base_s * 2^(attempts-1)``, at most ``max_s``) with equal jitter, a random point in its
    upper half. Nodes and messages that failed together (an SMTP outage) then come back
    spread out instead of in lockstep, and each still waits at least half the backoff."""
    ceiling = min(max_s, base_s * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + ceiling / 2 * rand()


def reminder_applies(
    message: OutboxMessage, session: Session | None, sequence_of: SequenceOf, now: datetime
) -> bool:
    """A reminder is sent only while its session is still scheduled, at the same time and
    the same change sequence it was built for, and has not started yet (after an outage or a
    long retry, "starts in 24 hours" must not arrive once it is over); otherwise it is
    skipped (no deletion needed when a session is cancelled or moved)."""
    if session is None or session.status is not SessionStatus.SCHEDULED:
        return False
    if now >= session.scheduled_at:
        return False
    if message.session_start is not None and session.scheduled_at != message.session_start:
        return False
    return sequence_of(session) == message.sequence


class MailSender:
    def __init__(
        self,
        store: Store,
        settings: MailSettings,
        transport: Transport,
        *,
        sequence_of: SequenceOf,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``rand`` gives the retry jitter (a float in [0, 1)); tests pass a fixed one."""
        self._store = store
        self._settings = settings
        self._transport = transport
        self._sequence_of = sequence_of
        self.owner = owner or f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._clock = clock
        self._rand = rand
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.counts = {"sent": 0, "retried": 0, "failed": 0, "skipped": 0}
        self.queue_depth = 0

    def stats(self) -> dict[str, float]:
        return {**self.counts, "queue_depth": self.queue_depth}

    def kick(self) -> None:
        """Look at the outbox now (after an enqueue)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="mail-sender")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except (StoreError, OSError) as exc:
                log.warning("mail.outbox_unavailable", error=str(exc))
                handled = 0
            except Exception:
                log.exception("mail.loop_failed")
                handled = 0
            if handled >= BATCH:
                continue  # more may be waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)

    async def run_once(self) -> int:
        """Claim and handle one batch of due messages; returns how many were claimed."""
        now = self._clock()
        claimed = await self._store.claim_mail(self.owner, now, self._settings.lease_s, BATCH)
        lease_ends = now + timedelta(seconds=self._settings.lease_s)
        for index, message in enumerate(claimed):
            # The batch is sent one message after another. A message whose lease could run
            # out during its send is left alone: once the lease expires another node (or
            # this one) claims it, and no two nodes ever send it at once.
            left = (lease_ends - self._clock()).total_seconds()
            if left < self._settings.timeout_s:
                log.info("mail.lease_short", left=len(claimed) - index, seconds=round(left, 1))
                break
            await self._handle(message)
        self.queue_depth = await self._store.count_mail_due(self._clock())
        return len(claimed)

    async def _handle(self, message: OutboxMessage) -> None:
        if message.kind is MailKind.REMINDER and message.session_id:
            session = await self._store.get_session(message.session_id)
            if not reminder_applies(message, session, self._sequence_of, self._clock()):
                await self._store.mark_mail_sent(
                    message.message_id, self.owner, self._clock(), skipped=True
                )
                self.counts["skipped"] += 1
                log.info("mail.skipped", message_id=message.message_id)
                return
        try:
            email = build_email(message, self._settings.from_address, self._clock())
            await self._transport.send(email, message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(message, exc)
            return
        except Exception as exc:
            # Not a delivery problem (a message that cannot be built, a bug): trying again
            # would fail the same way, and a message that stays claimable would come first in
            # every batch. Fail it for good so the others go out.
            log.exception("mail.unsendable", message_id=message.message_id)
            await self._failed(message, exc, permanent=True)
            return
        if await self._store.mark_mail_sent(message.message_id, self.owner, self._clock()):
            self.counts["sent"] += 1
            log.info("mail.sent", message_id=message.message_id, kind=message.kind.value)
        else:
            log.warning("mail.lease_lost", message_id=message.message_id)

    async def _failed(
        self, message: OutboxMessage, exc: Exception, *, permanent: bool = False
    ) -> None:
        permanent = permanent or is_permanent(exc)
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            # The operator's problem, not the message's: say so plainly (never the password).
            log.error(
                "mail.smtp_auth_failed",
                smtp_host=self._settings.smtp_host,
                username=self._settings.username,
                code=exc.code,
                answer=exc.message[:200],
            )
        elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
            log.error("mail.smtp_sender_refused", sender=exc.sender, code=exc.code)
        limit = message.attempts if permanent else self._settings.max_attempts
        delay = retry_delay(
            message.attempts, self._settings.retry_base_s, self._settings.retry_max_s, self._rand
        )
        error = f"{type(exc).__name__}: {exc}"[:500]
        status = await self._store.mark_mail_retry(
            message.message_id,
            self.owner,
            error,
            self._clock() + timedelta(seconds=delay),
            limit,
        )
        if status is MailStatus.FAILED:
            self.counts["failed"] += 1
            log.warning("mail.failed", message_id=message.message_id, error=error)
        elif status is MailStatus.PENDING:
            self.counts["retried"] += 1
            log.info("mail.retry", message_id=message.message_id, error=error, in_s=round(delay, 1))
