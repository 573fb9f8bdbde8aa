"""One side of one session, run inside a lab namespace: ``python -m tests.nat.peer_driver``.

It reuses the load tester's peer (signaling contract, perfect negotiation, relay path) and
speaks a line protocol with the test on stdin/stdout, one JSON object per line:

- the mentor signs in both users, books the session and prints ``{"event": "session",
  "sessionId": ...}``; the mentee signs in and prints ``{"event": "ready"}``;
- each then waits for a line on stdin (the mentee's carries the session id), so both start
  connecting at the same moment;
- it prints ``{"event": "result", ...}`` once it has a remote video frame or gave up
  (``--timeout`` seconds, well under aiortc's own ~64 s ICE failure), then waits for another
  line (or EOF) before leaving, so its goodbye cannot cut the other side short.

aiortc uses only the first STUN and the first TURN URI it is given, while a browser tries them
all. Like a browser on a network that blocks UDP, the driver falls back to TURN over TCP: it
sends one STUN binding over UDP to the STUN server and, without an answer, drops the STUN URI
and puts the ``?transport=tcp`` TURN URI first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from loadtest import api
from loadtest.api import ApiUser
from loadtest.peer import MediaOptions, Path, Peer, PeerFailure
from turn import stun
from turn.uris import UriError, parse_uri

UDP_PROBE_S = 1.5
BLOCKED_UDP = "this network blocks UDP; ask the operator to enable TURN over TCP/TLS"


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


async def udp_reaches(uri_text: str) -> bool:
    """Does a STUN server answer over UDP from here?"""
    try:
        uri = parse_uri(uri_text)
        async with stun.Channel("udp", uri.host, uri.port, UDP_PROBE_S) as channel:
            return await stun.binding(channel) is not None
    except (UriError, OSError, stun.StunErrorResponse, stun.StunProtocolError):
        return False


async def usable_ice_servers(servers: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The servers reordered for aiortc, and the transport its TURN allocation will use."""
    stun_urls = [u for s in servers for u in s.get("urls", []) if u.startswith("stun:")]
    udp_ok = not stun_urls or await udp_reaches(stun_urls[0])
    chosen: list[dict[str, Any]] = []
    transport = ""
    for server in servers:
        urls = [u for u in server.get("urls", []) if udp_ok or not u.startswith("stun:")]
        turn_urls = [u for u in urls if u.startswith(("turn:", "turns:"))]
        if not udp_ok:
            turn_urls.sort(key=lambda u: not u.endswith("transport=tcp"))
        if turn_urls and not transport:
            first = turn_urls[0]
            secure = first.startswith("turns:")
            transport = "tcp" if secure or first.endswith("transport=tcp") else "udp"
        urls = [u for u in urls if u.startswith("stun:")] + turn_urls
        if urls:
            chosen.append({**server, "urls": urls})
    return chosen, transport


def nominated(peer: Peer) -> tuple[str, str] | None:
    """The selected ICE pair as "type ip:port" texts (aiortc has no candidate-pair stats, so
    this reads aioice's nominated pair through aiortc's private attributes)."""
    pc = peer._pc
    if pc is None:
        return None
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is None:
            continue
        connection = transport.transport.iceGatherer._connection
        for pair in connection._nominated.values():
            local, remote = pair.local_candidate, pair.remote_candidate
            return (
                f"{local.type} {local.host}:{local.port}",
                f"{remote.type} {remote.host}:{remote.port}",
            )
    return None


def classify(mode: Path, pair: tuple[str, str] | None, transport: str) -> str:
    if mode == "relay":
        return "relay"
    if pair is None:
        return "unknown"
    local, remote = pair
    if local.startswith("relay "):
        return f"turn-{transport}"
    if remote.startswith("relay "):
        return "turn-remote"
    return "direct"


async def run(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    mentor_email = f"nat-{args.tag}-mentor@loadtest.invalid"
    mentee_email = f"nat-{args.tag}-mentee@loadtest.invalid"
    users: list[ApiUser] = []
    try:
        if args.role == "mentor":
            me = await api.sign_in(base, mentor_email, args.token)
            users.append(me)
            mentee = await api.sign_in(base, mentee_email, args.token)
            users.append(mentee)
            await api.become_mentor(me)
            session_id = await api.book(mentee, mentor_email, f"NAT lab {args.tag}")
        else:
            me = await api.sign_in(base, mentee_email, args.token)
            users.append(me)
        servers, transport = await usable_ice_servers(await api.ice_servers(me))
    except Exception as exc:
        emit(event="result", ok=False, error=f"setup: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if args.role == "mentor" and len(users) > 1:
            await users.pop().close()
    if args.role == "mentor":
        emit(event="session", sessionId=session_id)
        await read_line()
    else:
        emit(event="ready")
        session_id = await read_line()
    media = MediaOptions(width=160, height=120, fps=10, audio=False)
    peer = Peer(
        user=me,
        role=args.role,
        session_id=session_id,
        path=args.mode,
        pusher_key=args.pusher_key,
        ice_servers=servers,
        media=media,
    )
    started = time.monotonic()
    error = ""
    try:
        await asyncio.wait_for(peer.join(), args.timeout)
    except PeerFailure as exc:
        error = str(exc)
    except TimeoutError:
        t = peer.timings
        if t.subscribed_ms is None:
            error = f"signaling not ready within {args.timeout:g} s"
        elif t.ice_connected_ms is None and args.mode == "relay" and not servers:
            error = BLOCKED_UDP
        elif t.ice_connected_ms is None:
            error = f"ICE not connected within {args.timeout:g} s"
        else:
            error = f"no remote video frame within {args.timeout:g} s"
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    pair = nominated(peer)
    emit(
        event="result",
        ok=not error,
        role=args.role,
        path=classify(args.mode, pair, transport) if not error else "",
        local=pair[0] if pair else "",
        remote=pair[1] if pair else "",
        turnTransport=transport,
        iceConnectedMs=peer.timings.ice_connected_ms,
        firstFrameMs=peer.timings.first_frame_ms,
        elapsedMs=elapsed_ms,
        error=error,
    )
    await read_line()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(peer.leave(), 10)
    for user in users:
        await user.close()
    return 0 if not error else 1


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True, help="the server's auth.loadtest_token")
    parser.add_argument("--role", choices=("mentor", "mentee"), required=True)
    parser.add_argument("--mode", choices=("direct", "relay"), default="direct")
    parser.add_argument("--tag", required=True, help="unique per session (in the e-mails)")
    parser.add_argument("--pusher-key", default="panamia-key")
    parser.add_argument("--timeout", type=float, default=8.0)
    return parser


def main() -> int:
    return asyncio.run(run(argument_parser().parse_args()))


if __name__ == "__main__":
    sys.exit(main())
