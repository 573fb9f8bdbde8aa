"""Errors the relay reports to its callers (the HTTP layer maps them to status codes)."""

from __future__ import annotations


class RelayError(Exception):
    """Base class: the message is fit to show to the participant."""


class RelayFull(RelayError):
    """This node already relays ``relay.max_sessions`` sessions."""


class SessionBusy(RelayError):
    """The session already has its two relayed participants (or is just closing)."""


class BadOffer(RelayError):
    """The SDP offer is missing, malformed, or has nothing the relay can answer."""


class RelayUnavailable(RelayError):
    """The start-up self-check failed: the installed aiortc/aioice lack what the relay needs.

    The relay stays disabled; the rest of the server keeps serving.
    """


class RecordingRefused(RelayError):
    """A recording cannot start or stop: the session is not on this relay, or one already runs."""
