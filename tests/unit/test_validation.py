"""The mentoring rules as pure functions: typed values out, or an error naming the field."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

import pytest

from store import validation as v
from store.models import MentoringProfile, Profile
from store.validation import ValidationError
from store.zones import ZONE_RENAMES

NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday


def field_of(fn: Any, *args: Any) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args)
    return info.value.field


# --- e-mail and names ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana@Example.ORG", "ana@example.org"),
        ("  ana.maria+tag@mail.example.co  ", "ana.maria+tag@mail.example.co"),
        ("o'neil@example.org", "o'neil@example.org"),
    ],
)
def test_email_is_normalised(raw: str, expected: str) -> None:
    assert v.parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ana",
        "ana@",
        "@example.org",
        "ana@localhost",
        "ana@@example.org",
        "ana maria@example.org",
        ".ana@example.org",
        "ana..b@example.org",
        "ana@-example.org",
        "a" * 65 + "@example.org",
        "a@" + "b" * 250 + ".org",
        {"$ne": None},
        ["ana@example.org"],
        None,
        7,
    ],
)
def test_bad_email_names_the_field(raw: object) -> None:
    assert field_of(v.parse_email, raw, "mentorEmail") == "mentorEmail"


def test_name_from_email() -> None:
    assert v.name_from_email("ana.maria_lopez+x@example.org") == "Ana Maria Lopez"
    assert v.name_from_email("__@example.org") == "__@example.org"


def test_time_zone() -> None:
    assert v.parse_time_zone("America/New_York") == "America/New_York"
    assert v.parse_time_zone("UTC") == "UTC"
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "localtime", 5):
        assert field_of(v.parse_time_zone, bad) == "timeZone"


def test_time_zones_are_stored_by_their_canonical_names() -> None:
    assert v.parse_time_zone("Asia/Calcutta") == "Asia/Kolkata"
    assert v.parse_time_zone(" Europe/Kiev ") == "Europe/Kyiv"
    assert v.parse_time_zone("US/Eastern") == "America/New_York"
    assert v.parse_time_zone("Etc/UTC") == "UTC"
    assert v.canonical_zone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    with pytest.raises(v.ValidationError):
        v.canonical_zone("Asia/Atlantis")
    assert v.shown_zone("Asia/Calcutta") == "Asia/Kolkata"
    assert v.shown_zone("Gone/Zone") == "Gone/Zone"
    assert v.zone("Asia/Calcutta").key == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("reported", "stored"),
    [
        ("Africa/Asmera", "Africa/Asmara"),
        ("America/Coral_Harbour", "America/Atikokan"),
        ("Europe/Belfast", "Europe/London"),
        ("Asia/Ashkhabad", "Asia/Ashgabat"),
        ("America/Atka", "America/Adak"),
        ("America/Ensenada", "America/Tijuana"),
        ("America/Porto_Acre", "America/Rio_Branco"),
        ("Asia/Kashgar", "Asia/Urumqi"),
        ("Australia/Tasmania", "Australia/Hobart"),
    ],
)
def test_renamed_zones_browsers_report_are_stored_canonically(reported: str, stored: str) -> None:
    assert v.parse_time_zone(reported) == stored


def test_every_rename_points_at_a_zone_this_machine_knows() -> None:
    known = zoneinfo.available_timezones()
    assert {target for target in ZONE_RENAMES.values()} <= known | {"UTC"}


# --- profile ------------------------------------------------------------------------------
def profile(**mentoring: Any) -> Profile:
    return Profile(email="ana@example.org", name="Ana", mentoring=MentoringProfile(**mentoring))


GOOD_MENTOR: dict[str, object] = {
    "enabled": True,
    "bio": "I teach Python and data engineering.",
    "expertise": ["Python", "python", " SQL "],
    "languages": ["English", "Spanish"],
    "videoIntroUrl": "https://video.example.org/ana",
    "goals": "Help people ship",
    "hourlyRate": 0,
}


def test_profile_patch_applies_typed_values() -> None:
    updated = v.apply_profile_patch(
        profile(), {**GOOD_MENTOR, "timeZone": "Europe/Madrid", "name": " Ana L "}, NOW
    )
    assert updated.name == "Ana L"
    assert updated.time_zone == "Europe/Madrid"
    assert updated.updated_at == NOW
    m = updated.mentoring
    assert m.enabled and m.is_free
    assert m.expertise == ("Python", "SQL")  # duplicates removed case-insensitively
    assert m.languages == ("English", "Spanish")
    assert m.video_intro_url == "https://video.example.org/ana"


def test_profile_patch_accepts_the_mentoring_fields_nested_as_get_returns_them() -> None:
    nested = v.apply_profile_patch(profile(), {"name": "Ana", "mentoring": GOOD_MENTOR}, NOW)
    flat = v.apply_profile_patch(profile(), {"name": "Ana", **GOOD_MENTOR}, NOW)
    assert nested.mentoring == flat.mentoring


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mentoring": "yes"}, "mentoring"),
        ({"mentoring": {"name": "Ana"}}, "name"),
        ({"bio": "A long enough bio.", "mentoring": {"bio": "Another long bio."}}, "bio"),
        ({"mentoring": {**GOOD_MENTOR, "bio": "short"}}, "bio"),
        ({"mentoring": {"$set": {"enabled": True}}}, "$set"),
    ],
)
def test_nested_mentoring_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    assert field_of(v.apply_profile_patch, profile(), body, NOW) == field


def test_profile_patch_clears_optional_fields() -> None:
    start = v.apply_profile_patch(profile(), GOOD_MENTOR, NOW)
    cleared = v.apply_profile_patch(start, {"videoIntroUrl": "", "goals": None}, NOW)
    assert cleared.mentoring.video_intro_url is None
    assert cleared.mentoring.goals is None
    assert cleared.mentoring.bio == GOOD_MENTOR["bio"]


BAD_PROFILE_VALUES: list[tuple[str, object]] = [
    ("bio", "too short"),
    ("bio", "x" * 501),
    ("bio", {"$ne": None}),
    ("expertise", []),
    ("expertise", [f"tag{i}" for i in range(11)]),
    ("expertise", ["ok", ""]),
    ("expertise", ["x" * 51]),
    ("expertise", "Python"),
    ("expertise", [{"$gt": ""}]),
    ("languages", []),
    ("languages", ["  "]),
    ("languages", [3]),
    ("videoIntroUrl", "javascript:alert(1)"),
    ("videoIntroUrl", "ftp://example.org/v"),
    ("videoIntroUrl", "https://"),
    ("videoIntroUrl", "https://exa mple.org"),
    ("goals", "g" * 501),
    ("goals", 12),
    ("hourlyRate", -1),
    ("hourlyRate", "10"),
    ("hourlyRate", True),
    ("hourlyRate", float("inf")),
    ("hourlyRate", float("nan")),
    ("enabled", "yes"),
    ("name", ""),
    ("name", "n" * 101),
    ("avatarUrl", "data:image/png;base64,xx"),
    ("timeZone", "Nowhere/Land"),
]


@pytest.mark.parametrize(("field", "value"), BAD_PROFILE_VALUES)
def test_bad_profile_value_names_the_field(field: str, value: object) -> None:
    body = {**GOOD_MENTOR, field: value}
    assert field_of(v.apply_profile_patch, profile(), body, NOW) == field


def test_unknown_profile_field_is_named() -> None:
    assert field_of(v.apply_profile_patch, profile(), {"email": "x@example.org"}, NOW) == "email"


@pytest.mark.parametrize("missing", ["bio", "expertise", "languages"])
def test_enabling_needs_a_complete_profile(missing: str) -> None:
    body = {k: val for k, val in GOOD_MENTOR.items() if k != missing}
    assert field_of(v.apply_profile_patch, profile(), body, NOW) == missing


def test_disabled_profile_may_be_incomplete() -> None:
    assert v.apply_profile_patch(profile(), {"enabled": False, "goals": "x"}, NOW).mentoring.goals


# --- booking ------------------------------------------------------------------------------
BOOKING: dict[str, object] = {
    "mentorEmail": "Mentor@Example.org",
    "scheduledAt": "2030-03-05T10:30:00Z",
    "duration": 60,
    "topic": "Python code review",
}


def test_booking_is_typed() -> None:
    booking = v.parse_booking(BOOKING, NOW)
    assert booking.mentor_email == "mentor@example.org"
    assert booking.scheduled_at == datetime(2030, 3, 5, 10, 30, tzinfo=UTC)
    assert booking.duration == 60
    assert booking.topic == "Python code review"


def test_booking_offsets_become_utc() -> None:
    booking = v.parse_booking({**BOOKING, "scheduledAt": "2030-03-05T12:30:00+02:00"}, NOW)
    assert booking.scheduled_at == datetime(2030, 3, 5, 10, 30, tzinfo=UTC)


BAD_BOOKINGS: list[tuple[str, object]] = [
    ("mentorEmail", {"$ne": None}),
    ("mentorEmail", "nobody"),
    ("scheduledAt", "tomorrow"),
    ("scheduledAt", "2030-03-05T10:30:00"),  # no offset
    ("scheduledAt", "2020-03-05T10:30:00Z"),  # past
    ("scheduledAt", "2030-03-05T10:15:00Z"),  # off the grid
    ("scheduledAt", "2030-03-05T10:30:01Z"),
    ("scheduledAt", {"$gt": ""}),
    ("duration", 45),
    ("duration", "60"),
    ("duration", True),
    ("duration", 60.5),
    ("topic", "Hi"),
    ("topic", "t" * 201),
    ("topic", ["topic here"]),
]


@pytest.mark.parametrize(("field", "value"), BAD_BOOKINGS)
def test_bad_booking_names_the_field(field: str, value: object) -> None:
    assert field_of(v.parse_booking, {**BOOKING, field: value}, NOW) == field


@pytest.mark.parametrize("missing", ["mentorEmail", "scheduledAt", "duration", "topic"])
def test_booking_fields_are_required(missing: str) -> None:
    body = {k: val for k, val in BOOKING.items() if k != missing}
    assert field_of(v.parse_booking, body, NOW) == missing


def test_booking_rejects_unknown_fields() -> None:
    assert field_of(v.parse_booking, {**BOOKING, "status": "completed"}, NOW) == "status"


def test_booking_yourself_names_mentor_email() -> None:
    booking = v.parse_booking({**BOOKING, "scheduledAt": "2030-03-05T10:00:00Z"}, NOW)
    assert field_of(v.check_not_own_booking, booking, "Mentor@example.org") == "mentorEmail"
    v.check_not_own_booking(booking, "mentee@example.org")


# --- session updates ----------------------------------------------------------------------
def test_session_updates() -> None:
    notes = v.parse_session_update({"action": "update_notes", "notes": "hello"}, "abc")
    assert notes == v.SessionUpdate("update_notes", notes="hello")
    cancel = v.parse_session_update(
        {"action": "cancel", "reason": " sick ", "sessionId": "abc"}, "abc"
    )
    assert cancel == v.SessionUpdate("cancel", reason="sick")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "action"),
        ({"action": "delete"}, "action"),
        ({"action": {"$ne": None}}, "action"),
        ({"action": "update_notes"}, "notes"),
        ({"action": "update_notes", "notes": "n" * 5001}, "notes"),
        ({"action": "update_notes", "notes": 5}, "notes"),
        ({"action": "update_notes", "notes": "x", "reason": "y"}, "reason"),
        ({"action": "cancel"}, "reason"),
        ({"action": "cancel", "reason": "   "}, "reason"),
        ({"action": "cancel", "reason": "r" * 501}, "reason"),
        ({"action": "cancel", "reason": "ok", "sessionId": "other"}, "sessionId"),
    ],
)
def test_bad_session_update_names_the_field(body: dict[str, object], field: str) -> None:
    assert field_of(v.parse_session_update, body, "abc") == field


# --- sign-in ------------------------------------------------------------------------------
@pytest.mark.parametrize("good", ["/", "/mentoring/sessions?x=1", "/a/b#c"])
def test_next_path_accepts_local_paths(good: str) -> None:
    assert v.parse_next_path(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "evil",
        "/a b",
        "/\x00",
        {"$ne": None},
    ],
)
def test_next_path_refuses_anything_leaving_the_site(bad: object) -> None:
    assert field_of(v.parse_next_path, bad) == "next"


def test_split_tags() -> None:
    assert v.split_tags(" Python, SQL ,, ") == ["Python", "SQL"]


def _our_imports(path: str) -> set[str]:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    ours = {"config", "signaling", "web", "relay", "turn", "panamia", "store"}
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return {m for m in imported if m.split(".")[0] in ours}


def test_validation_imports_nothing_else_of_ours() -> None:
    from store import zones

    assert _our_imports(v.__file__) <= {"store.models", "store.zones"}
    assert _our_imports(zones.__file__) == set()
