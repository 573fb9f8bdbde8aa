"""A reminder is sent exactly once across a server killed between enqueue and send.

A real ``panamia serve`` process, SMTP pointing at an aiosmtpd server in this process. The
session and its reminders are written to the server's database; the server is killed with
SIGKILL before they are due, then started again on the same data folder: each reminder
arrives once, and a further wait brings no copies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.models import MailStatus, Session, utcnow
from store.sqlite import SqliteStore
from tests.support.procs import free_port, wait_for_port
from tests.support.smtp import Recorder, smtp_server
from web.mail.messages import MailSite, reminders

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    with smtp_server() as running_server:
        yield running_server


def serve(data_dir: Path, smtp_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "PANAMIA_STORE__DATA_DIR": str(data_dir),
        "PANAMIA_MAIL__SMTP_HOST": "127.0.0.1",
        "PANAMIA_MAIL__SMTP_PORT": str(smtp_port),
        "PANAMIA_MAIL__TLS": "none",
        "PANAMIA_MAIL__POLL_INTERVAL_S": "0.2",
        "PANAMIA_RELAY__MODE": "never",
        "PANAMIA_LOG__LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "panamia", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port


def stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_a_reminder_is_sent_once_across_a_killed_server(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> None:
    recorder, smtp_port = smtp
    data_dir = tmp_path / "var"
    first, port = serve(data_dir, smtp_port)
    try:
        await asyncio.to_thread(wait_for_port, port, "127.0.0.1", 60.0)
        # Enqueue through the server's own database file, as a booking on this node would.
        store = SqliteStore(str(data_dir / "panamia.sqlite3"))
        await store.open()
        start = (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        session = Session(
            session_id="restart-1",
            mentor_email="ana@example.org",
            mentee_email="ben@example.org",
            scheduled_at=start,
            duration=30,
            topic="Crash safety",
        )
        site = MailSite(base_url=f"http://127.0.0.1:{port}", reminder_lead_minutes=(15,))
        due = utcnow() + timedelta(seconds=4)
        outbox = [
            replace(m, due_at=due)
            for m in reminders(session, sequence=0, site=site, profiles={}, now=utcnow())
        ]
        assert len(outbox) == 2
        await store.create_session(session, outbox=outbox)
        stop(first, signal.SIGKILL)  # before anything is due
        assert recorder.messages == []

        await asyncio.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.5)
        second, port = serve(data_dir, smtp_port)
        try:
            await asyncio.to_thread(wait_for_port, port, "127.0.0.1", 60.0)
            await asyncio.to_thread(recorder.wait_for, 2, 30.0)
            await asyncio.sleep(2.0)  # several more polls: no copies
        finally:
            stop(second, signal.SIGTERM)
        ids = sorted(str(m["X-Panamia-Message"]) for m in recorder.messages)
        assert ids == sorted(m.message_id for m in outbox)
        rows = await store.list_mail_for("ben@example.org") + await store.list_mail_for(
            "ana@example.org"
        )
        assert {r.status for r in rows} == {MailStatus.SENT}
        assert all(r.attempts == 1 for r in rows)
        await store.close()
    finally:
        stop(first, signal.SIGKILL)
