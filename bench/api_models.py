"""Request-model benchmark: msgspec Structs against pydantic v2 models on this API's bodies.

Decodes the bodies the API really receives (a profile PATCH with the mentoring fields nested,
a booking, a notes update, and a malformed profile PATCH that must fail) from raw bytes into
equivalent typed models with each library, strict typing on both sides (``"true"`` is not a
boolean, ``"30"`` is not a number), and prints decodes per second plus the pydantic/msgspec
time ratio. It then prints the JSON Schema each produces for the profile PATCH, to compare
what the generated OpenAPI document would say.

    python -m bench.api_models [--rounds 20000]

pydantic is not a dependency of the application: install the ``bench`` extra to compare
(``pip install -e .[bench]``); without it only msgspec is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

PROFILE_PATCH = json.dumps(
    {
        "name": "Ana Maria",
        "timeZone": "America/Bogota",
        "mentoring": {
            "enabled": True,
            "bio": "Backend engineer who loves teaching Python.",
            "expertise": ["Python", "System Design", "Databases"],
            "languages": ["English", "Spanish"],
            "videoIntroUrl": "https://video.example.org/ana",
            "goals": None,
            "hourlyRate": 45.5,
        },
    }
).encode()
BOOKING = json.dumps(
    {
        "mentorEmail": "mentor@example.org",
        "scheduledAt": "2030-03-05T10:00:00Z",
        "duration": 60,
        "topic": "Designing a job queue",
    }
).encode()
NOTES = json.dumps({"action": "update_notes", "notes": "Agenda:\n- queues\n" * 20}).encode()
BAD_PROFILE_PATCH = json.dumps({"name": "Ana", "mentoring": {"bio": {"$ne": None}}}).encode()


class MsgMentoring(Struct, forbid_unknown_fields=True):
    enabled: bool | UnsetType = UNSET
    bio: str | UnsetType = UNSET
    expertise: list[str] | UnsetType = UNSET
    languages: list[str] | UnsetType = UNSET
    videoIntroUrl: str | UnsetType | None = UNSET
    goals: str | UnsetType | None = UNSET
    hourlyRate: float | UnsetType = UNSET


class MsgProfilePatch(Struct, forbid_unknown_fields=True):
    name: str | UnsetType = UNSET
    avatarUrl: str | UnsetType | None = UNSET
    timeZone: str | UnsetType = UNSET
    mentoring: MsgMentoring | UnsetType = UNSET


class MsgBooking(Struct, forbid_unknown_fields=True):
    mentorEmail: str
    scheduledAt: str
    duration: int
    topic: str


class MsgSessionUpdate(Struct, forbid_unknown_fields=True):
    action: str
    notes: str | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    sessionId: str | UnsetType = UNSET


Case = tuple[str, bytes, Callable[[bytes], object]]


def msgspec_cases() -> list[Case]:
    profile = msgspec.json.Decoder(MsgProfilePatch)
    booking = msgspec.json.Decoder(MsgBooking)
    update = msgspec.json.Decoder(MsgSessionUpdate)
    return [
        ("profile PATCH", PROFILE_PATCH, profile.decode),
        ("booking", BOOKING, booking.decode),
        ("notes update", NOTES, update.decode),
        ("bad profile PATCH", BAD_PROFILE_PATCH, profile.decode),
    ]


def pydantic_cases() -> tuple[list[Case], dict[str, Any]] | None:
    """The same models in pydantic, or None when pydantic is not installed."""
    try:
        from pydantic import BaseModel, ConfigDict
    except ImportError:
        return None

    strict = ConfigDict(extra="forbid", strict=True)

    class PydMentoring(BaseModel):
        model_config = strict
        enabled: bool | None = None
        bio: str | None = None
        expertise: list[str] | None = None
        languages: list[str] | None = None
        videoIntroUrl: str | None = None
        goals: str | None = None
        hourlyRate: float | None = None

    class PydProfilePatch(BaseModel):
        model_config = strict
        name: str | None = None
        avatarUrl: str | None = None
        timeZone: str | None = None
        mentoring: PydMentoring | None = None

    class PydBooking(BaseModel):
        model_config = strict
        mentorEmail: str
        scheduledAt: str
        duration: int
        topic: str

    class PydSessionUpdate(BaseModel):
        model_config = strict
        action: str
        notes: str | None = None
        reason: str | None = None
        sessionId: str | None = None

    cases: list[Case] = [
        ("profile PATCH", PROFILE_PATCH, PydProfilePatch.model_validate_json),
        ("booking", BOOKING, PydBooking.model_validate_json),
        ("notes update", NOTES, PydSessionUpdate.model_validate_json),
        ("bad profile PATCH", BAD_PROFILE_PATCH, PydProfilePatch.model_validate_json),
    ]
    return cases, PydProfilePatch.model_json_schema()


def per_second(decode: Callable[[bytes], object], raw: bytes, rounds: int) -> float:
    """Decodes per second, best of three runs (errors count: refusing is decoding too)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            with contextlib.suppress(ValueError):
                decode(raw)
        best = min(best, time.perf_counter() - start)
    return rounds / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()

    fast = msgspec_cases()
    other = pydantic_cases()
    if other is None:
        print("pydantic is not installed (pip install -e .[bench]): measuring msgspec only")
    print(f"{'body':<20}{'msgspec/s':>14}{'pydantic/s':>14}{'ratio':>8}")
    for index, (label, raw, decode) in enumerate(fast):
        ours = per_second(decode, raw, args.rounds)
        if other is None:
            print(f"{label:<20}{ours:>14,.0f}{'-':>14}{'-':>8}")
            continue
        theirs = per_second(other[0][index][2], raw, args.rounds)
        print(f"{label:<20}{ours:>14,.0f}{theirs:>14,.0f}{ours / theirs:>7.1f}x")
    print("(ratio: how many times faster msgspec decodes the same body)\n")

    (schema,), components = msgspec.json.schema_components([MsgProfilePatch])
    print("msgspec schema for the profile PATCH:")
    print(json.dumps({"schema": schema, "components": components}, indent=1)[:1500])
    if other is not None:
        print("\npydantic schema for the profile PATCH:")
        print(json.dumps(other[1], indent=1)[:1500])


if __name__ == "__main__":
    main()
