"""What the app tells people by e-mail: one builder per occasion, all returning outbox rows.

:func:`session_change_mail` builds everything a session change sends (the two participants'
notices with the ICS invitation, and for a booking or a move the reminders), so booking,
rescheduling and cancelling are one call each. Message ids are derived from the session,
the change, its sequence and the recipient: re-running a change's enqueue is a no-op, and a
reschedule (a higher sequence) gets reminders of its own while the old ones are skipped at
send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.models import MailKind, OutboxMessage, Profile, Session
from web.mail import ics

ROOM_PATH = "/mentoring/session/{session_id}"
"""The room's route (``web.room.ROOM_PATH``; a test keeps the two equal). Not imported from
there: the sign-in code sends mail too, and the room module depends on it."""

SESSION_CHANGES = (MailKind.BOOKED, MailKind.RESCHEDULED, MailKind.CANCELLED)


@dataclass(frozen=True)
class MailSite:
    """Where links in e-mails point, and the reminder schedule."""

    base_url: str
    """``http.public_url``, or the origin of the request that caused the mail."""
    uid_host: str = "localhost"
    """The host in calendar UIDs: from the configured public URL, so a session keeps its
    UID whichever address people browse."""
    reminder_lead_minutes: tuple[int, ...] = (1440, 15)


def room_url(base_url: str, session_id: str) -> str:
    return base_url.rstrip("/") + ROOM_PATH.format(session_id=session_id)


def event_uid(session_id: str, host: str) -> str:
    """The session's calendar UID: the same in every invitation, update and the feed."""
    return f"{session_id}@{host}"


def _zone(profile: Profile | None) -> ZoneInfo:
    try:
        return ZoneInfo(profile.time_zone if profile else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(start: datetime, profile: Profile | None) -> str:
    """The start in the reader's zone, with the zone named, and in UTC."""
    zone = _zone(profile)
    local = start.astimezone(zone)
    utc = start.astimezone(UTC)
    text = f"{local:%A %d %B %Y, %H:%M} ({zone.key})"
    return text if zone.key == "UTC" else f"{text}, {utc:%H:%M} UTC"


def _name(email: str, profiles: Mapping[str, Profile]) -> str:
    profile = profiles.get(email)
    return profile.name if profile and profile.name else email


def _lead_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "24 hours" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _message_id(*parts: object) -> str:
    return ":".join(str(p) for p in parts)


def session_event(
    session: Session, sequence: int, site: MailSite, profiles: Mapping[str, Profile], now: datetime
) -> ics.Event:
    link = room_url(site.base_url, session.session_id)
    mentor = ics.Person(session.mentor_email, _name(session.mentor_email, profiles))
    mentee = ics.Person(session.mentee_email, _name(session.mentee_email, profiles))
    return ics.Event(
        uid=event_uid(session.session_id, site.uid_host),
        sequence=sequence,
        start=session.scheduled_at,
        end=session.ends_at,
        summary=f"Mentoring: {session.topic}",
        description=f"Pana Mia Live mentoring session with {mentor.name} and {mentee.name}."
        f"\nJoin the call: {link}",
        url=link,
        organizer=mentor,
        attendees=(mentor, mentee),
        stamp=now,
    )


def session_change_mail(
    change: MailKind,
    session: Session,
    *,
    sequence: int,
    site: MailSite,
    profiles: Mapping[str, Profile],
    now: datetime,
    actor: str | None = None,
    reason: str | None = None,
    previous_start: datetime | None = None,
) -> list[OutboxMessage]:
    """Every message a session change sends, ready for the store's ``outbox`` argument.

    ``change`` is BOOKED, RESCHEDULED or CANCELLED; ``session`` is the session as it is after
    the change (for CANCELLED, as it was: its time and people); ``sequence`` the session's
    change counter after the change (0 for a new booking); ``actor`` who moved or cancelled
    it; ``reason`` the cancel reason; ``previous_start`` the start before a move.
    """
    if change not in SESSION_CHANGES:
        raise ValueError(f"{change} is not a session change")
    method = ics.Method.CANCEL if change is MailKind.CANCELLED else ics.Method.REQUEST
    event = session_event(session, sequence, site, profiles, now)
    invitation = ics.calendar([event], method)
    link = room_url(site.base_url, session.session_id)
    messages: list[OutboxMessage] = []
    for recipient in (session.mentor_email, session.mentee_email):
        other = session.mentee_email if recipient == session.mentor_email else session.mentor_email
        subject, body = _notice(
            change,
            session,
            recipient,
            _name(other, profiles),
            profiles,
            link,
            actor,
            reason,
            previous_start,
        )
        messages.append(
            OutboxMessage(
                message_id=_message_id(session.session_id, change.value, sequence, recipient),
                recipient=recipient,
                subject=subject,
                text=body,
                kind=change,
                due_at=now,
                session_id=session.session_id,
                sequence=sequence,
                session_start=session.scheduled_at,
                ics=invitation,
                ics_method=method.value,
                created_at=now,
            )
        )
    if change is not MailKind.CANCELLED:
        messages += reminders(session, sequence=sequence, site=site, profiles=profiles, now=now)
    return messages


def _notice(
    change: MailKind,
    session: Session,
    recipient: str,
    other_name: str,
    profiles: Mapping[str, Profile],
    link: str,
    actor: str | None,
    reason: str | None,
    previous_start: datetime | None,
) -> tuple[str, str]:
    reader = profiles.get(recipient)
    at = when(session.scheduled_at, reader)
    role = "mentor" if recipient == session.mentee_email else "mentee"
    greeting = f"Hello {_name(recipient, profiles)},\n\n"
    details = (
        f"Topic: {session.topic}\nWith: {other_name} (your {role})\nWhen: {at}\n"
        f"Length: {session.duration} minutes\n"
    )
    if change is MailKind.BOOKED:
        subject = f"Session booked: {session.topic}"
        body = f"Your mentoring session is booked.\n\n{details}\nJoin the call here: {link}\n"
    elif change is MailKind.RESCHEDULED:
        who = "you" if actor == recipient else _name(actor or "", profiles) or "the other person"
        before = when(previous_start, reader) if previous_start else "its earlier time"
        subject = f"Session moved: {session.topic}"
        body = (
            f"Your mentoring session was moved by {who}.\n\nIt was: {before}\n{details}\n"
            f"Join the call here: {link}\n"
        )
    else:
        who = "you" if actor == recipient else _name(actor or "", profiles) or "the other person"
        subject = f"Session cancelled: {session.topic}"
        body = (
            f"Your mentoring session was cancelled by {who}.\n\n{details}"
            f"Reason: {reason or '(none given)'}\n\nThe session's page: {link}\n"
        )
    return subject, greeting + body + "\nPana Mia Live\n"


def reminders(
    session: Session,
    *,
    sequence: int,
    site: MailSite,
    profiles: Mapping[str, Profile],
    now: datetime,
) -> list[OutboxMessage]:
    """A reminder per lead time and participant, due that long before the start; leads
    already past are left out."""
    link = room_url(site.base_url, session.session_id)
    out: list[OutboxMessage] = []
    for lead in sorted(set(site.reminder_lead_minutes), reverse=True):
        due = session.scheduled_at - timedelta(minutes=lead)
        if lead <= 0 or due <= now:
            continue
        for recipient in (session.mentor_email, session.mentee_email):
            at = when(session.scheduled_at, profiles.get(recipient))
            out.append(
                OutboxMessage(
                    message_id=_message_id(
                        session.session_id, "reminder", sequence, lead, recipient
                    ),
                    recipient=recipient,
                    subject=f"Reminder: {session.topic} starts in {_lead_text(lead)}",
                    text=(
                        f"Hello {_name(recipient, profiles)},\n\nYour mentoring session"
                        f' "{session.topic}" starts {at}.\n\nJoin the call here: {link}\n'
                        "(the room opens shortly before the start)\n\nPana Mia Live\n"
                    ),
                    kind=MailKind.REMINDER,
                    due_at=due,
                    session_id=session.session_id,
                    sequence=sequence,
                    session_start=session.scheduled_at,
                    created_at=now,
                )
            )
    return out


def signin_mail(
    email: str, link: str, token_hash: str, ttl_minutes: int, now: datetime
) -> OutboxMessage:
    """The sign-in e-mail. Its id comes from the token's hash, never the token."""
    return OutboxMessage(
        message_id=_message_id("signin", token_hash[:40]),
        recipient=email,
        subject="Your Pana Mia Live sign-in link",
        text=(
            "Hello,\n\n"
            f"Use this link to sign in to Pana Mia Live. It works once, for {ttl_minutes}"
            f" minutes:\n\n{link}\n\n"
            "If you did not ask for it, you can ignore this message.\n"
        ),
        kind=MailKind.SIGNIN,
        due_at=now,
        created_at=now,
    )
