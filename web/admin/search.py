"""The past-session search's query string: participant, from, to (dates, UTC), limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from store.operator import SessionSearch
from store.validation import ValidationError
from web.params import parse_date, parse_int_param, single_params

SEARCH_PARAMS = ("participant", "from", "to", "limit")
PARTICIPANT_MAX = 100
"""Enough for any e-mail fragment worth searching by, and short enough that a search URL full
of percent-encoded characters stays within the HTTP request-line limit (8190 bytes)."""
LIMIT_DEFAULT = 50
LIMIT_MAX = 200


@dataclass(frozen=True)
class SearchForm:
    """What the search form shows back: the typed values as text."""

    participant: str = ""
    start: str = ""
    end: str = ""


def parse_search(pairs: Sequence[tuple[str, str]]) -> tuple[SessionSearch, SearchForm]:
    """The search, or a ValidationError naming the parameter. ``to`` is inclusive (the
    whole day)."""
    params = single_params(pairs, SEARCH_PARAMS)
    participant = params.get("participant", "").strip()
    if len(participant) > PARTICIPANT_MAX:
        raise ValidationError("participant", f"At most {PARTICIPANT_MAX} characters")
    start = end = None
    if params.get("from", "").strip():
        start = datetime.combine(parse_date(params["from"], "from"), time(), UTC)
    if params.get("to", "").strip():
        end = datetime.combine(parse_date(params["to"], "to"), time(), UTC) + timedelta(days=1)
    if start is not None and end is not None and end <= start:
        raise ValidationError("to", "Must not be before from")
    limit = parse_int_param(params.get("limit"), "limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
    search = SessionSearch(participant or None, start, end, limit)
    form = SearchForm(participant, params.get("from", "").strip(), params.get("to", "").strip())
    return search, form
