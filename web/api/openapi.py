"""GET /api/openapi.json, generated from the route table and the request/response models.

Nothing here describes a body by hand: schemas come from :mod:`web.api.request_models` and
:mod:`web.api.response_models` (through msgspec), paths and answers from the
:class:`~web.api.spec.Operation` s the handler modules register. The relay and load-test
routes are mounted outside ``web.api`` (the relay package cannot know these models), so their
operations are listed here, against the same models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import msgspec
from aiohttp import web

from web.api import request_models as bodies
from web.api import response_models as out
from web.api.spec import NOT_SIGNED_IN, Operation, Reply, Route, error

JsonDict = dict[str, Any]
_REF = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")
_SIGNED_IN: list[JsonDict] = [{"cookieAuth": []}, {"bearerAuth": []}]
_RELAY_SESSION = {"session_id": {"type": "string"}}

BODY_TOO_LARGE = error(413, "The request body is larger than the server accepts (1 MiB)")
"""Declared for every operation with a body that does not describe a tighter limit itself:
web/body_limit.py answers it, whatever the route."""

MOUNTED_ELSEWHERE: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/api/relay/sessions/{session_id}/offer",
        "Join the media relay: a complete SDP offer in, the answer out",
        body=bodies.RelayOffer,
        path_schemas=_RELAY_SESSION,
        replies=(
            Reply(200, "The relay's answer", out.RelayAnswer),
            error(400, "Missing or malformed SDP"),
            error(403, "Not a participant, or the room is not open (not yet, ended, cancelled)"),
            error(404, "Unknown session"),
            error(409, "Two participants are already relayed"),
            error(413, "The body is larger than 128 KiB, or the SDP larger than 64 KiB"),
            error(503, "The relay is not available (disabled or at its session limit)"),
            NOT_SIGNED_IN,
        ),
    ),
    Operation(
        "POST",
        "/api/relay/sessions/{session_id}/leave",
        "Leave the media relay (closes this participant's server connection)",
        path_schemas=_RELAY_SESSION,
        replies=(
            Reply(200, "Whether a connection was closed", out.RelayLeft),
            error(403, "Not a participant"),
            error(404, "Unknown session"),
            NOT_SIGNED_IN,
        ),
    ),
    Operation(
        "POST",
        "/api/auth/loadtest",
        "Load-test sign-in: Bearer auth.loadtest_token, @loadtest.invalid addresses only",
        body=bodies.LoadtestSignIn,
        signed_in=False,
        replies=(
            Reply(200, "A session token for the test address", out.LoadtestToken),
            error(400, "Not a load-test address (field email)"),
            error(401, "Missing or wrong load-test token"),
            error(404, "Load-test sign-in is disabled"),
        ),
    ),
    Operation(
        "POST",
        "/api/auth/loadtest/session",
        "Load-test session starting now (its room open at once) between two @loadtest.invalid "
        "users; enabled with auth.loadtest_token or development sign-in",
        body=bodies.LoadtestSession,
        replies=(
            Reply(201, "The session, the signed-in user its mentee", out.SessionAnswer),
            error(400, "Not a load-test address (field mentorEmail), or a bad topic"),
            error(403, "The signed-in user is not a load-test user"),
            error(404, "Load-test sessions are disabled"),
            error(409, "One of the two already has a session now"),
            NOT_SIGNED_IN,
        ),
    ),
)

THIS_DOCUMENT = Operation(
    "GET",
    "/api/openapi.json",
    "This document",
    signed_in=False,
    replies=(Reply(200, "OpenAPI 3.1 document"),),
)


def _content(schema: JsonDict) -> JsonDict:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation, refs: dict[type[msgspec.Struct], JsonDict]) -> JsonDict:
    item: JsonDict = {"summary": op.summary}
    if op.signed_in:
        item["security"] = _SIGNED_IN
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": op.path_schemas.get(name, {"type": "string"}),
        }
        for name in _PATH_PARAM.findall(op.path)
    ]
    for param in op.params:
        entry: JsonDict = {
            "name": param.name,
            "in": "query",
            "required": param.required,
            "schema": param.schema,
        }
        if param.description:
            entry["description"] = param.description
        params.append(entry)
    if params:
        item["parameters"] = params
    if op.body is not None:
        content = _content(refs[op.body])
        if op.form_body:
            content["application/x-www-form-urlencoded"] = {"schema": refs[op.body]}
        item["requestBody"] = {"required": True, "content": content}
    responses: JsonDict = {}
    replies = op.replies
    if op.body is not None and all(reply.status != 413 for reply in replies):
        replies = (*replies, BODY_TOO_LARGE)
    for reply in replies:
        answer: JsonDict = {"description": reply.description}
        if reply.model is not None:
            answer["content"] = _content(refs[reply.model])
        responses[str(reply.status)] = answer
    item["responses"] = responses
    return item


def build_document(operations: Iterable[Operation]) -> JsonDict:
    """The OpenAPI 3.1 document for ``operations`` (plus the externally mounted ones)."""
    ops = [*operations, *MOUNTED_ELSEWHERE, THIS_DOCUMENT]
    models: list[type[msgspec.Struct]] = []
    for op in ops:
        for model in (op.body, *(reply.model for reply in op.replies)):
            if model is not None and model not in models:
                models.append(model)
    schemas, components = msgspec.json.schema_components(models, ref_template=_REF)
    refs = dict(zip(models, schemas, strict=True))
    paths: JsonDict = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pana Mia Live API",
            "version": "1",
            "description": "Mentoring accounts, profiles, discovery, booking and sessions. "
            'Every error is {"error": message, "field": name?}.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "panamia_session"},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


def routes(operations: tuple[Operation, ...]) -> tuple[Route, ...]:
    """The route serving the document for ``operations`` (built once, on first request)."""

    @cache
    def encoded() -> bytes:
        return msgspec.json.encode(build_document(operations))

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.Response(body=encoded(), content_type="application/json")

    return (Route(THIS_DOCUMENT, openapi_json),)
