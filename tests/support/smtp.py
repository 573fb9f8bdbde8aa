"""A real SMTP server in the test process (aiosmtpd), recording what it accepts.

``refuse_next(n, answer)`` makes it answer the next ``n`` DATA commands with ``answer`` (a
temporary failure by default), ``refuse_sender_next`` and ``refuse_recipient_next`` do the
same for MAIL FROM and RCPT TO, and ``refuse_login_next`` for AUTH on a server started with
``smtp_server(login=(user, password))``, which then requires a login. Together they exercise
the sender's retries and what it gives up on.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.procs import free_port


@dataclass
class Refusals:
    """The next ``left`` commands of one SMTP stage are answered with ``answer``."""

    left: int = 0
    answer: str = ""
    given: int = 0
    """How many this stage refused so far."""

    def take(self) -> str | None:
        """The refusal for this command, or None to accept it."""
        if self.left <= 0:
            return None
        self.left -= 1
        self.given += 1
        return self.answer


class Recorder:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.over_tls: list[bool] = []
        """For each accepted message, whether its connection had been upgraded to TLS."""
        self._lock = threading.Lock()
        self.login: tuple[str, str] | None = None
        """The credentials AUTH accepts (set by ``smtp_server(login=...)``)."""
        self.logins_refused = 0
        self._refuse_login = 0
        self._data = Refusals()
        self._sender = Refusals()
        self._recipient = Refusals()

    @property
    def refused(self) -> int:
        return self._data.given

    @property
    def senders_refused(self) -> int:
        return self._sender.given

    @property
    def recipients_refused(self) -> int:
        return self._recipient.given

    def refuse_next(self, count: int, answer: str = "451 4.3.0 try again later") -> None:
        with self._lock:
            self._data.left, self._data.answer = count, answer

    def refuse_login_next(self, count: int) -> None:
        """Answer the next ``count`` logins with 535, even with the right password."""
        with self._lock:
            self._refuse_login = count

    def refuse_sender_next(self, count: int, answer: str = "550 5.7.1 sender refused") -> None:
        with self._lock:
            self._sender.left, self._sender.answer = count, answer

    def refuse_recipient_next(self, count: int, answer: str = "550 5.1.1 no such user") -> None:
        with self._lock:
            self._recipient.left, self._recipient.answer = count, answer

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        with self._lock:
            given = (
                (auth_data.login.decode(), auth_data.password.decode())
                if isinstance(auth_data, LoginPassword)
                else None
            )
            if self._refuse_login > 0 or given != self.login:
                self._refuse_login = max(self._refuse_login - 1, 0)
                self.logins_refused += 1
                return AuthResult(success=False, handled=False)
        return AuthResult(success=True)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            refusal = self._sender.take()
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            refusal = self._recipient.take()
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            refusal = self._data.take()
            if refusal is not None:
                return refusal
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.over_tls.append(session.ssl is not None)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived (call it through to_thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self._lock:
            raise AssertionError(f"{len(self.messages)} of {count} messages arrived")


@contextmanager
def smtp_server(
    login: tuple[str, str] | None = None, starttls: ssl.SSLContext | None = None
) -> Iterator[tuple[Recorder, int]]:
    """A plain-text server that offers STARTTLS only when given a server ``starttls``
    context. With ``login`` it takes AUTH with those credentials (over plain text too: a
    test server on loopback)."""
    recorder = Recorder()
    port = free_port()
    auth: dict[str, Any] = {}
    if login is not None:
        recorder.login = login
        auth = {
            "authenticator": recorder.authenticate,
            "auth_required": False,
            "auth_require_tls": False,
            # One mechanism, so one login attempt is one AUTH (aiosmtplib tries them all).
            "auth_exclude_mechanism": ["LOGIN"],
        }
    if starttls is not None:
        auth["tls_context"] = starttls
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def mail_settings(port: int, **extra: Any) -> dict[str, Any]:
    """The [mail] section for a test SMTP server on ``port``: plain text, quick retries."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "tls": "none",
        "from_address": "Pana Mia Live <no-reply@example.org>",
        "poll_interval_s": 0.2,
        "retry_base_s": 0.2,
        "retry_max_s": 1.0,
        "timeout_s": 10.0,
        **extra,
    }
