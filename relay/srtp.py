"""SRTP for the fast path: libsrtp called straight through pylibsrtp's binding.

pylibsrtp's ``Session.protect``/``unprotect`` check the argument's type and size, allocate a
length cell, and raise through a helper, on every call; per packet that wrapper costs about
as much as libsrtp's own work. A :class:`PacketCipher` is bound once per session (its libsrtp
context, a packet buffer and a length cell of its own) and calls libsrtp's ``srtp_protect``
and ``srtp_unprotect`` directly. The session stays the one aiortc uses (same keys, same
replay window); only the per-call wrapping differs. A packet libsrtp refuses (a replay, a
bad tag, too long) is None, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import pylibsrtp

from relay import compat

BUFFER_BYTES = 1500
"""pylibsrtp's own buffer size: no SRTP packet on the relay's paths is longer."""

Transform = Callable[[bytes], "bytes | None"]
"""Protect or unprotect one packet: the result, or None when libsrtp refuses it."""


class PacketCipher:
    """Direct ``protect``/``unprotect`` for one pylibsrtp session (one event loop only)."""

    __slots__ = ("protect", "session", "unprotect")

    def __init__(self, session: pylibsrtp.Session) -> None:
        self.session = session
        """Kept referenced: the libsrtp context lives as long as the session object."""
        context = compat.srtp_context(session)
        ffi, lib = compat.srtp_binding()
        cdata = ffi.new("char[]", BUFFER_BYTES)
        buffer = ffi.buffer(cdata)
        length = ffi.new("int *")
        srtp_protect, srtp_unprotect = lib.srtp_protect, lib.srtp_unprotect
        protect_limit = BUFFER_BYTES - pylibsrtp.SRTP_MAX_TRAILER_LEN

        def protect(packet: bytes) -> bytes | None:
            size = len(packet)
            if size > protect_limit:
                return None
            buffer[0:size] = packet
            length[0] = size
            if srtp_protect(context, cdata, length):
                return None
            result: bytes = buffer[0 : length[0]]
            return result

        def unprotect(packet: bytes) -> bytes | None:
            size = len(packet)
            if size > BUFFER_BYTES:
                return None
            buffer[0:size] = packet
            length[0] = size
            if srtp_unprotect(context, cdata, length):
                return None
            result: bytes = buffer[0 : length[0]]
            return result

        self.protect: Transform = protect
        self.unprotect: Transform = unprotect
