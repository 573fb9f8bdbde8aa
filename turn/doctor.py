"""``panamia doctor``: check from the server that STUN and TURN answer and our credentials work.

Each check ends in a line of plain advice, because the person reading it is setting up a server,
not debugging a protocol.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TextIO

from turn import stun
from turn.credentials import IceSettings, mint, stun_uris, turn_uris
from turn.uris import IceUri, UriError, parse_uri

Level = Literal["ok", "warn", "fail"]
DOCTOR_USER = "panamia-doctor"


class DoctorSettings(IceSettings, Protocol):
    """What the self-test reads; ``config.settings.TurnSettings`` has it all."""

    @property
    def external_ip(self) -> str: ...


@dataclass(frozen=True)
class Check:
    level: Level
    subject: str
    finding: str
    advice: str = ""


async def diagnose(
    turn: DoctorSettings,
    *,
    wait_s: float = 3.0,
    now: float | None = None,
    own_stun: Sequence[str] = (),
) -> list[Check]:
    """Run every check and return the findings in order (nothing is printed).

    ``own_stun``: the server's built-in STUN responder and ``stun.uris``, checked first."""
    try:
        relays = turn_uris(turn.uris)
        own = list(dict.fromkeys(parse_uri(text) for text in own_stun))
        stuns = [uri for uri in stun_uris(turn) if uri not in own]
    except UriError as exc:
        return [Check("fail", "settings", str(exc), "Fix turn.uris / turn.stun_uris / stun.uris.")]
    checks: list[Check] = []
    if not relays:
        checks.append(
            Check(
                "warn",
                "settings",
                "No TURN server is configured (turn.uris is empty).",
                "Calls between people behind strict firewalls or symmetric NATs will use the"
                " media relay, or media over the websocket where UDP is blocked. Set turn.uris,"
                " e.g."
                ' ["turn:turn.example.org:3478"], and turn.shared_secret.',
            )
        )
    elif not turn.shared_secret:
        checks.append(
            Check(
                "fail",
                "settings",
                "turn.uris is set but turn.shared_secret is empty, so no credentials can be made.",
                "Set turn.shared_secret (or PANAMIA_TURN__SHARED_SECRET_FILE) to coturn's"
                " static-auth-secret; `panamia turn-config` writes a matching coturn config.",
            )
        )
    for uri in own:
        checks.append(_as_own_stun(await check_stun(uri, wait_s)))
    for uri in stuns:
        checks.append(await check_stun(uri, wait_s))
    if relays and turn.shared_secret:
        cred = mint(turn.shared_secret.reveal(), DOCTOR_USER, turn.ttl_s, now)
        for uri in relays:
            checks.extend(
                await check_turn(
                    uri, cred.username, cred.credential, wait_s, external_ip=turn.external_ip
                )
            )
    return _without_repeated_warnings(checks)


def _as_own_stun(check: Check) -> Check:
    """The server's own STUN responder: not answering makes direct calls rarer (they go
    through the relay), it breaks nothing, so it is a warning with its own advice."""
    if check.level != "fail":
        return check
    return Check(
        "warn",
        check.subject,
        f"The server's STUN responder does not answer: {check.finding}",
        "Start `panamia serve` (it answers STUN on stun.port), open that UDP port in the"
        " firewall, and check that stun.public_host (or http.public_url) names this server.",
    )


def _without_repeated_warnings(checks: list[Check]) -> list[Check]:
    """The same warning for the UDP and TCP twin of one server is said once."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for check in checks:
        if check.level == "warn":
            if (check.finding, check.advice) in seen:
                continue
            seen.add((check.finding, check.advice))
        kept.append(check)
    return kept


async def check_stun(uri: IceUri, wait_s: float) -> Check:
    if uri.secure:
        return Check("warn", str(uri), "stuns: URIs are not tested.", "")
    try:
        async with stun.Channel("udp", uri.host, uri.port, wait_s) as channel:
            mapped = await stun.binding(channel)
    except Exception as exc:  # every failure becomes advice
        return Check("fail", str(uri), *_explain(exc, uri, "udp", wait_s))
    seen = f"{mapped[0]}:{mapped[1]}" if mapped else "an unreadable address"
    return Check("ok", str(uri), f"STUN answers; it sees this server as {seen}.")


async def check_turn(
    uri: IceUri, username: str, password: str, wait_s: float, *, external_ip: str = ""
) -> list[Check]:
    transport = "tls" if uri.secure else uri.effective_transport
    subject = str(uri)
    try:
        async with stun.Channel(transport, uri.host, uri.port, wait_s) as channel:
            allocation = await stun.allocate(channel, username, password)
    except Exception as exc:  # every failure becomes advice
        return [Check("fail", subject, *_explain(exc, uri, transport, wait_s))]
    relayed = allocation.relayed
    where = f"{relayed[0]}:{relayed[1]}" if relayed else "an unreadable address"
    found = [
        Check("ok", subject, f"TURN works with the app's credentials; it relays from {where}.")
    ]
    if relayed and not external_ip and _is_private(relayed[0]):
        found.append(
            Check(
                "warn",
                subject,
                f"The relay address {relayed[0]} is private: people on the internet cannot send"
                " media to it.",
                "If coturn runs behind NAT (most cloud machines), set turn.external_ip to the"
                " public address and render the coturn config again.",
            )
        )
    found.extend(await _check_wrong_password_refused(uri, transport, username, wait_s))
    return found


async def _check_wrong_password_refused(
    uri: IceUri, transport: str, username: str, wait_s: float
) -> list[Check]:
    try:
        async with stun.Channel(transport, uri.host, uri.port, wait_s) as channel:
            await stun.allocate(channel, username, "not-the-password")
    except stun.StunErrorResponse as exc:
        if exc.code == 401:
            return []
    except Exception:  # reachability was reported above
        return []
    return [
        Check(
            "warn",
            str(uri),
            "The TURN server accepts a wrong password.",
            "coturn is not checking credentials: make sure it runs with the config from"
            " `panamia turn-config` (use-auth-secret), otherwise anyone can use it as a relay.",
        )
    ]


def _explain(exc: BaseException, uri: IceUri, transport: str, timeout: float) -> tuple[str, str]:
    """(what happened, what to do) for a failed check, in plain words."""
    port = f"{transport.upper() if transport != 'tls' else 'TCP'} port {uri.port}"
    if isinstance(exc, socket.gaierror):
        return (
            f"The name {uri.host} does not resolve.",
            "Fix the host name in the settings or create its DNS record.",
        )
    if isinstance(exc, stun.StunTimeout | TimeoutError):
        return (
            f"No answer from {uri.host} on {port} within {timeout:g} s.",
            f"Check that coturn is running and listening on {port}, and that {port} is open in"
            " the firewall (and in the cloud provider's security group).",
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Nothing accepts connections at {uri.host} on {port}.",
            f"Start the STUN/TURN server (coturn), or check that it listens on {port}.",
        )
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return (
            f"The TLS handshake with {uri.host}:{uri.port} failed: {exc}.",
            "Give coturn a valid certificate for this host name (turn.tls_cert_file and"
            " turn.tls_key_file) and render its config again.",
        )
    if isinstance(exc, stun.StunErrorResponse):
        return _explain_error(exc)
    if isinstance(exc, OSError):
        return (
            f"Could not reach {uri.host} on {port}: {exc.strerror or exc}.",
            "Check the address, the network route and the firewall.",
        )
    return (f"Unexpected answer: {exc}.", "Check that this address is a STUN/TURN server.")


def _explain_error(exc: stun.StunErrorResponse) -> tuple[str, str]:
    what = f"The server refused: {exc.code} {exc.reason}."
    if exc.code == 401:
        return (
            "The TURN server refused the app's credentials (401 Unauthorized).",
            "The app's turn.shared_secret and coturn's static-auth-secret differ, or this"
            " machine's clock is wrong. Render coturn's config with `panamia turn-config`"
            " from the same settings, restart coturn, and keep both clocks in sync (NTP).",
        )
    if exc.code == 403:
        return (
            what,
            "coturn forbids this client (denied-peer-ip, allowed-peer-ip or a user quota);"
            " check its log.",
        )
    if exc.code in (437, 486):
        return (what, "Too many allocations at once: raise coturn's user-quota or total-quota.")
    if exc.code == 508:
        return (
            what,
            "coturn has no free relay port: widen turn.relay_min_port..turn.relay_max_port.",
        )
    return (what, "See coturn's log for the reason.")


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


_MARKS: dict[Level, str] = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


def report(checks: Sequence[Check], out: TextIO) -> int:
    """Print the findings; return the exit status (1 when any check failed)."""
    for check in checks:
        print(f"{_MARKS[check.level]}  {check.subject}: {check.finding}", file=out)
        if check.advice:
            print(f"      -> {check.advice}", file=out)
    failed = sum(check.level == "fail" for check in checks)
    warned = sum(check.level == "warn" for check in checks)
    if failed:
        print(f"{failed} check(s) failed: calls may not connect until they are fixed.", file=out)
    elif warned:
        print(f"Everything answers; {warned} warning(s) to look at.", file=out)
    else:
        print("Everything answers: STUN and TURN work with the app's credentials.", file=out)
    return 1 if failed else 0


def run_doctor(
    turn: DoctorSettings,
    *,
    timeout: float = 3.0,
    out: TextIO | None = None,
    own_stun: Sequence[str] = (),
) -> int:
    """Run the self-test, print plain-words findings, return the process exit status."""
    checks = asyncio.run(diagnose(turn, wait_s=timeout, own_stun=own_stun))
    return report(checks, out if out is not None else sys.stdout)
