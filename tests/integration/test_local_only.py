"""Without SMTP: who may see sign-in links and the Messages page, what reaches the log, and a
server that nobody could sign in to refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from aiohttp.test_utils import make_mocked_request
from pytest_aiohttp import AiohttpClient, AiohttpServer

from config.loader import build_settings
from panamia.app import create_app
from store.models import MailKind, OutboxMessage, utcnow
from tests.conftest import SettingsFactory
from tests.support.apiclient import connect, user
from web.auth import peer_is_loopback, sign_in_unreachable
from web.mail.sender import LogTransport, build_email

ROOT = Path(__file__).resolve().parents[2]


class Peer:
    """A transport that reports ``address`` as the TCP peer."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 50000) if name == "peername" else default


@pytest.mark.parametrize(
    ("peer", "headers", "local"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("192.0.2.7", {}, False),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.4"}, False),
        ("127.0.0.1", {"Forwarded": "for=198.51.100.4"}, False),
    ],
)
def test_only_a_direct_loopback_peer_is_local(
    peer: str, headers: dict[str, str], local: bool
) -> None:
    request = make_mocked_request("GET", "/", headers=headers, transport=Peer(peer))
    assert peer_is_loopback(request) is local


async def test_behind_a_proxy_on_this_host_nobody_sees_links_or_messages(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, make_settings: SettingsFactory
) -> None:
    # dev_login unset: the automatic mode of a loopback server without SMTP.
    settings = make_settings()
    settings = replace(settings, auth=replace(settings.auth, dev_login=None))
    server = await aiohttp_server(create_app(settings))
    client = await connect(aiohttp_client, server)
    proxied = {"X-Forwarded-For": "198.51.100.4"}
    answer = await client.post(
        "/api/auth/email", json={"email": "eve@example.org"}, headers=proxied
    )
    assert answer.status == 202
    assert "devLink" not in await answer.json()
    direct = await client.post("/api/auth/email", json={"email": "ana@example.org"})
    assert "devLink" in await direct.json()
    ana = await user(aiohttp_client, server, "ana@example.org")
    assert (await ana.get("/messages")).status == 200
    assert (await ana.get("/messages", headers=proxied)).status == 404


@pytest.mark.parametrize(
    ("sections", "refused"),
    [
        ({"http": {"host": "0.0.0.0"}}, True),
        ({"http": {"host": "192.0.2.10"}}, True),
        ({"http": {"host": "127.0.0.1"}}, False),
        ({"http": {"host": "0.0.0.0"}, "mail": {"smtp_host": "mail.example.org"}}, False),
        ({"http": {"host": "0.0.0.0"}, "auth": {"smtp_host": "mail.example.org"}}, False),
        ({"http": {"host": "0.0.0.0"}, "auth": {"dev_login": True}}, False),
        ({"http": {"host": "0.0.0.0"}, "auth": {"dev_login": False}}, True),
        ({"http": {"host": "0.0.0.0"}, "auth": {"loadtest_token": "t" * 32}}, False),
    ],
)
def test_a_server_nobody_could_sign_in_to_is_named(
    sections: dict[str, dict[str, object]], refused: bool
) -> None:
    assert (sign_in_unreachable(build_settings(sections)) is not None) is refused


def test_serve_refuses_to_start_without_smtp_off_loopback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PANAMIA_STORE__DATA_DIR": str(tmp_path / "var"),
        "PANAMIA_RELAY__MODE": "never",
    }
    env.pop("PANAMIA_MAIL__SMTP_HOST", None)
    done = subprocess.run(
        [sys.executable, "-m", "panamia", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"[mail]" in done.stderr and b"refusing to start" in done.stderr


async def test_without_smtp_session_mail_text_is_logged_but_sign_in_links_are_not() -> None:
    now = utcnow()
    booked = OutboxMessage(
        message_id="s:booked:0:ana@example.org",
        recipient="ana@example.org",
        subject="Session booked: Queues",
        text="Join the call here: http://localhost:8080/mentoring/session/s",
        kind=MailKind.BOOKED,
        due_at=now,
    )
    signin = OutboxMessage(
        message_id="signin:1",
        recipient="ana@example.org",
        subject="Your sign-in link",
        text="http://localhost:8080/auth/callback?token=SECRETTOKEN",
        kind=MailKind.SIGNIN,
        due_at=now,
    )
    transport = LogTransport()
    with structlog.testing.capture_logs() as logs:
        for message in (booked, signin):
            await transport.send(build_email(message, "x@example.org", now), message)
    assert logs[0]["text"] == booked.text
    assert "SECRETTOKEN" not in repr(logs)
