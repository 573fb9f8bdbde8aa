"""Demo data for `panamia demo`: a few mentors, mentees and sessions in an empty store, so a
newcomer signs in (any demo address works with the development sign-in link) to a lived-in app.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog

from store.base import DiscoverQuery, Store
from store.models import MentoringProfile, Profile, Session, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Person:
    email: str
    name: str
    time_zone: str
    avatar_url: str | None = None
    mentoring: MentoringProfile = field(default_factory=MentoringProfile)


MENTORS = (
    _Person(
        "ana.ruiz@example.com",
        "Ana María Ruiz",
        "America/New_York",
        "/static/img/demo/ana.svg",
        MentoringProfile(
            enabled=True,
            bio="Data scientist at a Miami health-tech start-up. I help people move into data "
            "work from other careers: portfolios, interviews and the first ninety days.",
            expertise=("Python", "Data Science", "Career Change"),
            languages=("English", "Spanish"),
            goals="Help ten people land their first data job this year.",
            hourly_rate=0.0,
        ),
    ),
    _Person(
        "jb.pierre@example.com",
        "Jean-Baptiste Pierre",
        "America/New_York",
        None,
        MentoringProfile(
            enabled=True,
            bio="Product manager for twelve years, from agencies to a public company. "
            "Roadmaps, user research and talking to engineers without losing the room.",
            expertise=("Product Management", "UX Research", "Leadership"),
            languages=("English", "French", "Haitian Creole"),
            video_intro_url="https://example.com/videos/jb-intro",
            hourly_rate=45.0,
        ),
    ),
    _Person(
        "carolina.mendes@example.com",
        "Carolina Mendes",
        "Europe/Lisbon",
        None,
        MentoringProfile(
            enabled=True,
            bio="Front-end engineer and accessibility specialist. Bring me a component, a "
            "design system question or a screen-reader bug and we will fix it together.",
            expertise=("JavaScript", "Accessibility", "CSS"),
            languages=("Portuguese", "English", "Spanish"),
            hourly_rate=30.0,
        ),
    ),
    _Person(
        "kenji.watanabe@example.com",
        "Kenji Watanabe",
        "Asia/Tokyo",
        "/static/img/demo/kenji.svg",
        MentoringProfile(
            enabled=True,
            bio="Machine-learning engineer working on speech models. Happy to review "
            "projects, explain papers and plan a learning path into ML.",
            expertise=("Machine Learning", "Python", "Research"),
            languages=("Japanese", "English"),
            hourly_rate=0.0,
        ),
    ),
)

MENTEES = (
    _Person(
        "luis.gomez@example.com",
        "Luis Gómez",
        "America/New_York",
        mentoring=MentoringProfile(goals="Move from accounting into data analysis this year."),
    ),
    _Person(
        "priya.nair@example.com",
        "Priya Nair",
        "Europe/London",
        mentoring=MentoringProfile(goals="Grow from data analyst into machine-learning work."),
    ),
)


@dataclass(frozen=True)
class _Booking:
    mentor: str
    mentee: str
    days_from_today: int
    """Day in the mentor's time zone, relative to today there."""
    local_start: time
    duration: int
    topic: str
    notes: str = ""
    cancel_reason: str = ""


BOOKINGS = (
    _Booking(
        "ana.ruiz@example.com",
        "luis.gomez@example.com",
        2,
        time(10, 0),
        60,
        "Breaking into data science from accounting",
    ),
    _Booking(
        "carolina.mendes@example.com",
        "priya.nair@example.com",
        3,
        time(14, 0),
        30,
        "Review of my design system's focus styles",
    ),
    _Booking(
        "jb.pierre@example.com",
        "luis.gomez@example.com",
        5,
        time(11, 30),
        90,
        "Mock product-manager interview",
    ),
    _Booking(
        "jb.pierre@example.com",
        "luis.gomez@example.com",
        -5,
        time(11, 0),
        60,
        "How to write a first product spec",
        notes="Start from the problem, not the feature.\nShare a one-page draft before "
        "the full spec.\nNext: interview three users before our next session.",
    ),
    _Booking(
        "ana.ruiz@example.com",
        "priya.nair@example.com",
        -8,
        time(9, 30),
        30,
        "Portfolio review: churn prediction notebook",
        notes="Strong feature engineering. Add a short write-up of the business impact "
        "and move the plots to the top.",
    ),
    _Booking(
        "kenji.watanabe@example.com",
        "priya.nair@example.com",
        6,
        time(13, 0),
        60,
        "Reading group: speech recognition papers",
        cancel_reason="Conference travel that week; please book the week after.",
    ),
)


async def is_empty(store: Store) -> bool:
    """No mentor to discover and none of the demo people exists yet."""
    if (await store.discover(DiscoverQuery(limit=1))).total:
        return False
    for person in (*MENTORS, *MENTEES):
        if await store.get_profile(person.email) is not None:
            return False
    return True


async def seed_demo(store: Store, now: datetime | None = None) -> str:
    """Fill an empty store; return a summary, or "" when the store already has data."""
    if not await is_empty(store):
        return ""
    now = now or utcnow()
    for person in (*MENTORS, *MENTEES):
        await store.save_profile(
            Profile(
                email=person.email,
                name=person.name,
                avatar_url=person.avatar_url,
                time_zone=person.time_zone,
                mentoring=person.mentoring,
                created_at=now,
                updated_at=now,
            )
        )
    zones = {p.email: p.time_zone for p in MENTORS}
    for booking in BOOKINGS:
        zone = ZoneInfo(zones[booking.mentor])
        day = now.astimezone(zone).date() + timedelta(days=booking.days_from_today)
        start = datetime.combine(day, booking.local_start, tzinfo=zone).astimezone(now.tzinfo)
        session = await store.create_session(
            Session(
                session_id=uuid.uuid4().hex,
                mentor_email=booking.mentor,
                mentee_email=booking.mentee,
                scheduled_at=start,
                duration=booking.duration,
                topic=booking.topic,
                created_at=now - timedelta(days=14),
                updated_at=now - timedelta(days=14),
            )
        )
        if booking.notes:
            await store.update_notes(session.session_id, booking.notes, now)
        if booking.cancel_reason:
            await store.cancel_session(
                session.session_id, booking.mentor, booking.cancel_reason, now
            )
    log.info("demo.seeded", mentors=len(MENTORS), mentees=len(MENTEES), sessions=len(BOOKINGS))
    return (
        f"Added {len(MENTORS)} mentors, {len(MENTEES)} mentees and {len(BOOKINGS)} sessions. "
        f"Sign in as {MENTEES[0].email} (a mentee) or {MENTORS[0].email} (a mentor) to look "
        "around."
    )
