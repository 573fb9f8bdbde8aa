"""``mail.tls`` against a real SMTP server (aiosmtpd): "starttls" insists on the upgrade,
"opportunistic" upgrades when offered and otherwise sends in plain text, which is what the
deprecated ``auth.smtp_*`` options always did and still do."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config.settings import MailSettings
from store.models import MailKind, OutboxMessage, utcnow
from tests.conftest import SettingsFactory
from tests.support.smtp import mail_settings, smtp_server
from web.mail.sender import SmtpTransport, build_email

TO = "reader@example.org"


def outbox_message() -> OutboxMessage:
    return OutboxMessage(
        message_id="tls-1",
        recipient=TO,
        subject="Session booked",
        text="Hello",
        kind=MailKind.BOOKED,
        due_at=utcnow(),
    )


async def deliver(settings: MailSettings) -> None:
    message = outbox_message()
    await SmtpTransport(settings).send(
        build_email(message, settings.from_address, utcnow()), message
    )


async def test_the_legacy_options_reach_a_relay_that_offers_no_starttls(
    make_settings: SettingsFactory,
) -> None:
    with smtp_server() as (recorder, port):
        settings = make_settings(
            auth={
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "mail_from": "Pana Mia Live <no-reply@example.org>",
            }
        ).smtp
        assert settings.tls == "opportunistic"
        await deliver(settings)
        assert [m["To"] for m in recorder.messages] == [TO]
        assert recorder.over_tls == [False]


async def test_the_legacy_options_on_port_465_mean_tls(make_settings: SettingsFactory) -> None:
    settings = make_settings(auth={"smtp_host": "smtp.example.org", "smtp_port": 465}).smtp
    assert settings.tls == "tls"


async def test_required_starttls_sends_nothing_to_a_server_without_it() -> None:
    with smtp_server() as (recorder, port):
        settings = MailSettings(**mail_settings(port, tls="starttls"))
        with pytest.raises(aiosmtplib.SMTPException, match=r"(?i)starttls"):
            await deliver(settings)
        assert recorder.messages == []


def trusted_server_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, which this
    process's default client contexts trust (SSL_CERT_FILE is read when one is made)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_opportunistic_upgrades_when_the_server_offers_starttls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server(starttls=trusted_server_context(tmp_path, monkeypatch)) as (recorder, port):
        await deliver(MailSettings(**mail_settings(port, tls="opportunistic")))
        await deliver(MailSettings(**mail_settings(port, tls="starttls")))
        assert recorder.over_tls == [True, True]
