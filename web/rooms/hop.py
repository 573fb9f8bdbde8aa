"""The signed internal hop: a header only the cluster's nodes can write.

A node that forwards a room's request to its owner adds ``X-Panamia-Room-Hop`` =
``"<session id> <fence> <unix time> <signature>"``, an HMAC-SHA256 under a key derived from
the auth secret every node shares (``auth.secret``). The owner serves a request carrying a
valid hop only while it still holds that very lease (the fence), so a request sent on a stale
view of ownership is refused rather than served by a node that has lost the room. The user's
own credentials ride along unchanged: the owner authenticates them as it would directly.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from config.settings import Secret

HOP_HEADER = "X-Panamia-Room-Hop"
MAX_AGE_S = 60
"""How old a hop header may be (the nodes' clocks are assumed roughly in step)."""


def _key(secret: Secret) -> bytes:
    return hmac.new(secret.reveal().encode(), b"panamia-room-hop", hashlib.sha256).digest()


def _mac(key: bytes, session_id: str, fence: str, stamp: str) -> str:
    message = f"{session_id}\n{fence}\n{stamp}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(secret: Secret, session_id: str, fence: str, now: float | None = None) -> str:
    stamp = str(int(time.time() if now is None else now))
    return f"{session_id} {fence} {stamp} {_mac(_key(secret), session_id, fence, stamp)}"


def verify(secret: Secret, header: str, session_id: str, now: float | None = None) -> str | None:
    """The fence a valid hop header names for ``session_id``, or None."""
    parts = header.split(" ")
    if len(parts) != 4 or parts[0] != session_id:
        return None
    _session, fence, stamp, mac = parts
    if not stamp.isdigit():
        return None
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > MAX_AGE_S:
        return None
    expected = _mac(_key(secret), session_id, fence, stamp)
    return fence if hmac.compare_digest(expected, mac) else None
