"""A real SMTP server in the test process (aiosmtpd), recording what it accepts.

``refuse_next(n, code)`` makes it answer the next ``n`` DATA commands with a temporary
failure, to exercise the sender's retries.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.procs import free_port


class Recorder:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused = 0
        self._refuse = 0
        self._code = "451 4.3.0 try again later"
        self._lock = threading.Lock()

    def refuse_next(self, count: int, answer: str = "451 4.3.0 try again later") -> None:
        with self._lock:
            self._refuse, self._code = count, answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._refuse > 0:
                self._refuse -= 1
                self.refused += 1
                return self._code
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
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
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
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
