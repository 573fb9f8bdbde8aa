"""A chat event's data as the hub hands it over: hostile shapes are refused, never raised."""

from __future__ import annotations

import pytest

from store.validation import ValidationError
from web.session_chat import chat_text


@pytest.mark.parametrize(
    "data",
    [
        "[" * 5_000 + "]" * 5_000,  # fits in a client event, deeper than the JSON parser goes
        '{"text":' * 5_000,
        "not json",
        ["text"],
        None,
    ],
)
def test_malformed_chat_data_is_a_validation_error(data: object) -> None:
    with pytest.raises(ValidationError) as refused:
        chat_text(data)
    assert refused.value.field == "text"


def test_a_json_string_of_an_object_is_read() -> None:
    assert chat_text('{"text": " hello "}') == "hello"
