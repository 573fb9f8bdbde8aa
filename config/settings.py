"""Frozen settings dataclasses, one per section.

Each field's docstring (the string literal under it) is the reference text for that option;
``config/panamia.example.toml`` mirrors them and a test keeps the two in step. The media
sections live in :mod:`config.settings_media` and ``Secret`` in :mod:`config.secret`; all are
importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import ip_network
from typing import Literal
from urllib.parse import urlsplit

from config.secret import Secret
from config.settings_media import (
    RecordingSettings,
    RelaySettings,
    RoomSettings,
    StunSettings,
    TurnSettings,
)

# Every section's settings class is importable from here, wherever it is defined.
__all__ = [
    "AdminSettings",
    "AuthSettings",
    "BusSettings",
    "ClusterSettings",
    "HttpSettings",
    "LimitSettings",
    "LogSettings",
    "MailSettings",
    "MetricsSettings",
    "PusherSettings",
    "QualitySettings",
    "RecordingSettings",
    "RelaySettings",
    "RoomSettings",
    "Secret",
    "Settings",
    "StoreSettings",
    "StunSettings",
    "TurnSettings",
]


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    """Address to listen on. Use 0.0.0.0 to accept connections from other machines."""
    port: int = 8080
    """TCP port to listen on."""
    public_url: str = ""
    """URL people use to reach the server (links in e-mails, cookie Secure flag).
    Empty means http://{host}:{port}."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For header is
    believed. The client is the rightmost address in that header that is not one of them;
    from any other peer the header is ignored. Empty: the TCP peer is the client."""

    def __post_init__(self) -> None:
        for entry in self.trusted_proxies:
            try:
                ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"http.trusted_proxies: {entry!r} is not an IP address or network"
                ) from None


@dataclass(frozen=True)
class AuthSettings:
    secret: Secret = field(default_factory=lambda: Secret(""))
    """Secret signing session tokens (JWT, HS256). Empty: generated once and kept in
    var/auth-secret."""
    previous_secrets: tuple[Secret, ...] = ()
    """Older signing secrets still accepted while tokens signed with them expire (rotation)."""
    dev_login: bool | None = None
    """Show sign-in links on the page instead of only e-mailing them. Unset: on when the
    server listens on localhost, no SMTP host is configured and the request comes from this
    machine (not through a proxy). A server listening beyond localhost without SMTP refuses
    to start unless this is true."""
    session_ttl_s: int = 14 * 24 * 3600
    """How long a sign-in lasts, in seconds."""
    magic_link_ttl_s: int = 15 * 60
    """How long a sign-in link stays valid, in seconds."""
    link_requests_per_hour: int = 5
    """Sign-in links one address may request per hour."""
    smtp_host: str = ""
    """Deprecated: use [mail] smtp_host. Still read when [mail] smtp_host is empty."""
    smtp_port: int = 587
    """Deprecated: use [mail] smtp_port (read together with auth.smtp_host)."""
    smtp_user: str = ""
    """Deprecated: use [mail] username (read together with auth.smtp_host)."""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    """Deprecated: use [mail] password (read together with auth.smtp_host)."""
    mail_from: str = "Pana Mia Live <no-reply@localhost>"
    """Deprecated: use [mail] from_address (read when it is left at its default)."""
    loadtest_token: Secret = field(default_factory=lambda: Secret(""))
    """Bearer token that lets `panamia loadtest` sign in as test users. Empty: disabled."""


@dataclass(frozen=True)
class StoreSettings:
    data_dir: str = "var"
    """Folder for the embedded database and generated secrets."""
    sqlite_path: str = ""
    """Embedded SQLite database file (used when mongodb_uri is empty). Empty:
    {data_dir}/panamia.sqlite3."""
    mongodb_uri: Secret = field(default_factory=lambda: Secret(""))
    """MongoDB connection string. When set, MongoDB is the store."""
    mongodb_database: str = "panamia"
    """MongoDB database name."""


@dataclass(frozen=True)
class BusSettings:
    redis_url: Secret = field(default_factory=lambda: Secret(""))
    """Redis URL. When set, several server processes form one cluster over Redis pub/sub."""
    node_timeout_s: float = 15.0
    """Seconds after which the presence members of a silent cluster node are dropped."""


@dataclass(frozen=True)
class ClusterSettings:
    internal_url: str = ""
    """This node's own address as the other nodes reach it, for instance
    "http://10.0.0.11:8080" (never the proxy's). Set on every node, together with
    bus.redis_url, to turn on room ownership: a session's room (its media relay and live notes)
    lives on the one node that holds its lease in Redis, and the others forward the room's
    requests there. Empty: a single node serves every room itself, with no forwarding."""
    lease_ttl_s: float = 6.0
    """Seconds a room's lease lasts without renewal (renewed every quarter of it): how long a
    session's room stays unreachable after its owner node dies. Between 2 and 10."""
    forward_timeout_s: float = 15.0
    """Seconds a forwarded relay or notes request may take on the owner node."""

    def __post_init__(self) -> None:
        if not 2.0 <= self.lease_ttl_s <= 10.0:
            raise ValueError("cluster.lease_ttl_s: must be between 2 and 10 seconds")
        if self.forward_timeout_s <= 0:
            raise ValueError("cluster.forward_timeout_s: must be positive")
        url = self.internal_url
        if url and not (url.startswith("http://") or url.startswith("https://")):
            raise ValueError("cluster.internal_url: must be an http:// or https:// URL")


@dataclass(frozen=True)
class PusherSettings:
    app_id: str = "1"
    """Pusher app id served by the hub (digits: the official `pusher` server SDKs insist)."""
    key: str = "panamia-key"
    """Pusher app key: browsers connect to /app/{key}."""
    secret: Secret = field(default_factory=lambda: Secret(""))
    """Pusher app secret for channel auth and HTTP API signatures. Empty: generated once
    and kept in var/pusher-secret."""
    webhook_urls: tuple[str, ...] = ()
    """URLs that receive signed webhooks (channel_occupied, member_added, ...)."""
    activity_timeout_s: int = 120
    """Seconds of silence after which a client should ping (sent to clients)."""
    max_outbox: int = 256
    """Frames queued toward one client before it is disconnected as too slow."""


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str = ""
    """SMTP server every e-mail goes through. Empty: messages are written to the log and,
    on a server listening on localhost, shown on the Messages page."""
    smtp_port: int = 587
    """SMTP port (587 for STARTTLS, 465 for TLS, 25 or a test server's port for none)."""
    tls: Literal["starttls", "opportunistic", "tls", "none"] = "starttls"
    """starttls: upgrade the connection with STARTTLS, and refuse to send when the server
    does not offer it; opportunistic: upgrade when the server offers STARTTLS, otherwise
    send in plain text (a relay on port 25 that may not speak TLS); tls: TLS from the start
    (port 465); none: plain text (only for a server on the same machine or a test server)."""
    username: str = ""
    """SMTP user name, if the server needs one."""
    password: Secret = field(default_factory=lambda: Secret(""))
    """SMTP password (never logged)."""
    from_address: str = "Pana Mia Live <no-reply@localhost>"
    """From address of every e-mail."""
    reminder_lead_minutes: tuple[int, ...] = (1440, 15)
    """Reminders before a session starts, in minutes (default: 24 hours and 15 minutes)."""
    poll_interval_s: float = 5.0
    """Seconds between looks at the outbox when nothing is due."""
    lease_s: float = 120.0
    """Seconds a node holds a message it is sending before another node may take it over."""
    max_attempts: int = 8
    """Delivery attempts before a message is marked failed."""
    retry_base_s: float = 30.0
    """Wait after the first failed attempt; it doubles with each further failure."""
    retry_max_s: float = 3600.0
    """Longest wait between two attempts."""
    timeout_s: float = 30.0
    """Seconds an SMTP conversation may take. A claimed message is sent only while at least
    this much of its lease is left, so ``lease_s`` must be longer."""

    def __post_init__(self) -> None:
        if self.lease_s <= self.timeout_s:
            raise ValueError("mail.lease_s: must be longer than mail.timeout_s")


@dataclass(frozen=True)
class MetricsSettings:
    bearer_token: Secret = field(default_factory=lambda: Secret(""))
    """When set, GET /metrics answers only requests with ``Authorization: Bearer <token>``
    (401 otherwise). Empty: /metrics is open to whoever reaches the server."""


@dataclass(frozen=True)
class LimitSettings:
    signin_address_per_minute: float = 2.0
    """Sign-in link requests one client address may make per minute, on average."""
    signin_address_burst: int = 20
    """Sign-in link requests one client address may make at once before the rate applies."""
    signin_email_per_minute: float = 0.2
    """Sign-in link requests for one e-mail address per minute, on average (on top of
    auth.link_requests_per_hour, which counts the links actually issued)."""
    signin_email_burst: int = 5
    """Sign-in link requests for one e-mail address at once before the rate applies."""
    writes_per_minute: float = 60.0
    """Writes (bookings, reschedules, cancellations, profile, availability and chat changes)
    one signed-in user may make per minute, on average."""
    writes_burst: int = 60
    """Writes one signed-in user may make at once before the rate applies."""
    hub_connections_per_address: int = 50
    """Open hub websockets one client address may hold (across the cluster when Redis is
    configured, else on this node). More are refused with Pusher close code 4100 ("over
    capacity"), which makes pusher-js back off and retry. 0: no limit."""
    client_events_per_user_per_second: float = 10.0
    """Client events (client-* on private and presence channels) one user may send per
    second, on average, from all their connections together (across the cluster when Redis is
    configured). Refused with a pusher:error of code 4301; the connection stays open. The
    Pusher limit of 10 per second per connection applies as well."""
    client_events_per_user_burst: int = 10
    """Client events one user may send at once before the per-user rate applies."""
    quality_per_minute: float = 30.0
    """Call-quality reports one participant may send per session per minute, on average
    (the room sends one every 5 seconds; two open tabs fit)."""
    quality_burst: int = 5
    """Call-quality reports one participant may send per session at once."""

    def __post_init__(self) -> None:
        for name in ("signin_address", "signin_email", "writes", "quality"):
            if getattr(self, f"{name}_per_minute") < 0 or getattr(self, f"{name}_burst") < 0:
                raise ValueError(f"limits.{name}: rates and bursts must not be negative")
        if (
            self.hub_connections_per_address < 0
            or self.client_events_per_user_per_second < 0
            or self.client_events_per_user_burst < 0
        ):
            raise ValueError("limits: hub limits must not be negative")


@dataclass(frozen=True)
class AdminSettings:
    emails: tuple[str, ...] = ()
    """E-mail addresses of the operators: they see the console under /admin (live sessions,
    call quality, relay and TURN, past sessions). Everyone else gets 403 there."""

    def __post_init__(self) -> None:
        for email in self.emails:
            if "@" not in email or email.strip() != email:
                raise ValueError(f"admin.emails: {email!r} is not an e-mail address")


@dataclass(frozen=True)
class QualitySettings:
    window_minutes: int = 30
    """Minutes of call-quality reports kept for each live session (what /admin charts)."""
    live_after_s: float = 20.0
    """A participant counts as in a live call while their last report is this recent."""
    summary_interval_s: float = 30.0
    """Seconds between saves of a participant's quality summary with the session while the
    call goes on (the last one is saved when the call ends)."""

    def __post_init__(self) -> None:
        if not 1 <= self.window_minutes <= 24 * 60:
            raise ValueError("quality.window_minutes: must be between 1 and 1440")
        if self.live_after_s <= 0 or self.summary_interval_s <= 0:
            raise ValueError("quality: intervals must be positive")


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    """Log level: DEBUG, INFO, WARNING, ERROR."""
    json: bool | None = None
    """JSON lines. Unset: JSON when stderr is not a terminal."""


@dataclass(frozen=True)
class Settings:
    http: HttpSettings = field(default_factory=HttpSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    bus: BusSettings = field(default_factory=BusSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    pusher: PusherSettings = field(default_factory=PusherSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    room: RoomSettings = field(default_factory=RoomSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    turn: TurnSettings = field(default_factory=TurnSettings)
    stun: StunSettings = field(default_factory=StunSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    log: LogSettings = field(default_factory=LogSettings)

    @property
    def smtp(self) -> MailSettings:
        """The mail settings in force: ``[mail]``, or the deprecated ``auth.smtp_*`` options
        when ``[mail] smtp_host`` is empty and ``auth.smtp_host`` is set. Those options
        always upgraded with STARTTLS only when the server offered it, so they map to
        ``tls = "opportunistic"`` (a plain relay keeps working); port 465 means TLS."""
        mail, auth = self.mail, self.auth
        if mail.smtp_host or not auth.smtp_host:
            return mail
        default_from = MailSettings().from_address
        return replace(
            mail,
            smtp_host=auth.smtp_host,
            smtp_port=auth.smtp_port,
            tls="tls" if auth.smtp_port == 465 else "opportunistic",
            username=auth.smtp_user,
            password=auth.smtp_password,
            from_address=mail.from_address if mail.from_address != default_from else auth.mail_from,
        )

    @property
    def builtin_stun_uri(self) -> str | None:
        """The ``stun:`` URI of this server's own STUN responder, or None when it is off
        (with ``stun.port = 0`` the port it got is only known once it listens)."""
        return self.stun_uri_on(self.stun.port)

    def stun_uri_on(self, port: int) -> str | None:
        """The built-in STUN responder's ``stun:`` URI for the port it listens on."""
        if not self.stun.enabled or port <= 0:
            return None
        host = self.stun.public_host or (urlsplit(self.public_url).hostname or "localhost")
        if ":" in host:
            host = f"[{host}]"
        return f"stun:{host}:{port}"

    @property
    def public_url(self) -> str:
        if self.http.public_url:
            return self.http.public_url.rstrip("/")
        wildcard_or_loopback = ("127.0.0.1", "0.0.0.0", "::", "::1")  # noqa: S104
        host = "localhost" if self.http.host in wildcard_or_loopback else self.http.host
        return f"http://{host}:{self.http.port}"
