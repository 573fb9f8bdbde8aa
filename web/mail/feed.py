"""The private calendar feed: a secret URL per person listing their upcoming sessions.

The token is random and only its SHA-256 hash is stored; creating a new one replaces the old
(rotation), deleting it revokes the feed. The feed uses the same UIDs as the invitations,
so a calendar that has both shows each session once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from store.base import Store
from store.models import SessionStatus
from web.mail import ics
from web.mail.messages import MailSite, session_event

TOKEN_BYTES = 32


def new_feed_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_feed_token(token: str) -> str:
    return hashlib.sha256(b"panamia-calendar:" + token.encode()).hexdigest()


def feed_url(site: MailSite, token: str) -> str:
    return f"{site.base_url}/calendar/{token}.ics"


async def feed_calendar(store: Store, email: str, site: MailSite, now: datetime) -> str:
    """Upcoming scheduled sessions of ``email`` as a calendar without METHOD.

    A subscribed feed is a view of the person's calendar, not an iTIP message, so it has no
    METHOD, and RFC 5546's rule that a PUBLISH carries no ATTENDEE does not apply: each
    event keeps its organizer and attendees, so the calendar shows who the session is with.
    """
    sessions = await store.list_sessions(email, status=SessionStatus.SCHEDULED, now=now)
    profiles = {}
    for address in sorted({e for s in sessions for e in (s.mentor_email, s.mentee_email)}):
        profile = await store.get_profile(address)
        if profile is not None:
            profiles[address] = profile
    events = [
        session_event(s, s.sequence, site, profiles, now)
        for s in sorted(sessions, key=lambda s: s.scheduled_at)
    ]
    return ics.calendar(events, None, name="Pana Mia Live sessions")
