"""Request bodies in through the typed models, response bodies out.

:func:`read_body` decodes the raw bytes straight into a request model; whatever is wrong
(not JSON, not an object, a wrong type, an unknown or missing field, however deeply nested)
becomes a 400 ``{"error", "field"}`` naming the field, never a 500. The decoder stops at the
first mismatch, so a hostile body is not walked further than the model allows.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import web

from store.validation import ValidationError
from web.api.errors import ApiError

BodyT = TypeVar("BodyT", bound=msgspec.Struct)

_TYPE_MESSAGES = {
    "str": "Expected a string",
    "bool": "Expected true or false",
    "int": "Expected a whole number",
    "float": "Expected a number",
    "array": "Expected a list of strings",  # every list in a request body holds strings
    "object": "Must be an object",
}


async def read_body(request: web.Request, model: type[BodyT]) -> BodyT:
    """The body decoded into ``model``, or a 400 naming the field to blame."""
    raw = await request.read()
    return decode_body(raw, model)


def decode_body(raw: bytes, model: type[BodyT]) -> BodyT:
    try:
        return msgspec.json.decode(raw, type=model, strict=True)
    except msgspec.ValidationError as exc:
        raise _translate(str(exc)) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ApiError(400, "Invalid JSON body") from exc


def _translate(message: str) -> ApiError | ValidationError:
    """msgspec's ``"<what> - at `$.a.b[0]`"`` -> the rules' answer for field ``b``.

    Nested names blame the innermost field, as the flattened profile patch always did
    (``mentoring.bio`` -> ``bio``); a problem with the body itself has no field."""
    what, _, path = message.partition(" - at `$")
    path = path.removesuffix("`")
    names = [part.partition("[")[0] for part in path.split(".")[1:]]
    names = [name for name in names if name]
    if what.startswith(("Object contains unknown field `", "Object missing required field `")):
        name = what.partition("`")[2].rpartition("`")[0]
        unknown = what.startswith("Object contains")
        return ValidationError(name, "Unknown field" if unknown else "This field is required")
    if not names:
        return ApiError(400, "The body must be a JSON object")
    wanted = what.partition("Expected `")[2].partition("`")[0]
    options = [part.strip() for part in wanted.split("|") if part.strip() != "null"]
    text = _TYPE_MESSAGES.get(options[0], "Invalid value") if len(options) == 1 else "Invalid value"
    return ValidationError(names[-1], text)


def answer(body: msgspec.Struct, status: int = 200) -> web.Response:
    """A response model as a JSON response."""
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )
