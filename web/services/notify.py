"""Telling people: the glue between a change (booking, move, cancel) and the mail outbox.

Handlers build the messages with :func:`change_mail` and hand them to the store call that
makes the change (its ``outbox`` argument), so they are stored in the same write; then they
call :func:`mail_queued` so the sender looks at the outbox at once. Nothing here waits for
SMTP.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from config.settings import Settings
from store.base import Store
from store.models import MailKind, OutboxMessage, Profile, Session
from web import keys
from web.auth import link_base_url
from web.mail.messages import MailSite, session_change_mail


def session_sequence(session: Session) -> int:
    """The session's change counter as stored (0 for a session never moved or cancelled): the
    calendar invite's SEQUENCE. It rises on each reschedule and on cancel."""
    return session.sequence


def mail_site(settings: Settings, request: web.Request | None = None) -> MailSite:
    """Links point where sign-in links do (:func:`web.auth.link_base_url`): ``http.public_url``
    when set, else the loopback origin the person browses on this server's port, else the
    default public URL. A forged Host header never steers a mailed link elsewhere."""
    base = settings.public_url if request is None else link_base_url(request)
    return MailSite(
        base_url=base.rstrip("/"),
        uid_host=urlsplit(settings.public_url).hostname or "localhost",
        reminder_lead_minutes=settings.mail.reminder_lead_minutes,
    )


async def participant_profiles(store: Store, session: Session) -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    for email in (session.mentor_email, session.mentee_email):
        profile = await store.get_profile(email)
        if profile is not None:
            found[email] = profile
    return found


async def change_mail(
    request: web.Request,
    change: MailKind,
    session: Session,
    *,
    sequence: int,
    now: datetime,
    actor: str | None = None,
    reason: str | None = None,
    previous_start: datetime | None = None,
) -> list[OutboxMessage]:
    """All messages of one session change (see :func:`web.mail.messages.session_change_mail`),
    with links for this request and the participants' names and zones."""
    app = request.app
    return session_change_mail(
        change,
        session,
        sequence=sequence,
        site=mail_site(app[keys.SETTINGS], request),
        profiles=await participant_profiles(app[keys.STORE], session),
        now=now,
        actor=actor,
        reason=reason,
        previous_start=previous_start,
    )


def mail_queued(app: web.Application) -> None:
    """Wake this node's sender (it also polls, so a missing sender only delays mail)."""
    sender = app.get(keys.MAIL)
    if sender is not None:
        sender.kick()
