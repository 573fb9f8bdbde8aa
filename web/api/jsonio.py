"""Reading request bodies: JSON objects only, NaN/Infinity refused, strict UTF-8."""

from __future__ import annotations

import json
from typing import NoReturn

from aiohttp import web

from store.validation import as_object
from web.api.errors import ApiError


def _refuse_constant(_name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


async def read_json_object(request: web.Request) -> dict[str, object]:
    """The body as a JSON object; 400 ``Invalid JSON body`` when it is not JSON at all."""
    raw = await request.read()
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "Invalid JSON body") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "The body must be a JSON object")
    return as_object(value)


def query_pairs(request: web.Request) -> list[tuple[str, str]]:
    return list(request.query.items())
