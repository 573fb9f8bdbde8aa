"""GET /api/openapi.json: an OpenAPI 3.1 description of the JSON API.

Written by hand so it says what the handlers promise; a test checks that every registered
/api route appears here. Limits come from ``store.validation`` so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from store import validation as v

JsonDict = dict[str, Any]


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JsonDict, description: str) -> JsonDict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> JsonDict:
    return _json(_ref("Error"), description)


_SIGNED_IN: list[JsonDict] = [{"cookieAuth": []}, {"bearerAuth": []}]
_COMMON_ERRORS = {"401": _error("Not signed in")}

_PUSHER_AUTH_FIELDS: JsonDict = {
    "type": "object",
    "required": ["socket_id", "channel_name"],
    "properties": {
        "socket_id": {"type": "string", "pattern": r"^\d+\.\d+$"},
        "channel_name": {"type": "string"},
    },
}
_NULLABLE_STR: JsonDict = {"type": ["string", "null"]}
_TIME: JsonDict = {"type": "string", "format": "date-time"}


def _session_param() -> JsonDict:
    return {
        "name": "sessionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    }


def _query(name: str, schema: JsonDict, description: str = "") -> JsonDict:
    param: JsonDict = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


SCHEMAS: JsonDict = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "Human-readable message"},
            "field": {"type": "string", "description": "The input to blame, when there is one"},
        },
    },
    "Mentoring": {
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean"},
            "bio": {"type": "string", "maxLength": v.BIO_MAX},
            "expertise": {"type": "array", "items": {"type": "string"}},
            "languages": {"type": "array", "items": {"type": "string"}},
            "videoIntroUrl": _NULLABLE_STR,
            "goals": _NULLABLE_STR,
            "hourlyRate": {"type": "number", "minimum": 0, "description": "0 means free"},
        },
    },
    "PublicProfile": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "name": {"type": "string"},
            "avatarUrl": _NULLABLE_STR,
            "timeZone": {"type": "string", "description": "IANA time zone name"},
            "mentoring": _ref("Mentoring"),
        },
    },
    "Profile": {
        "allOf": [
            _ref("PublicProfile"),
            {
                "type": "object",
                "properties": {"createdAt": _TIME, "updatedAt": _TIME},
            },
        ]
    },
    "Me": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "name": {"type": "string"},
            "avatarUrl": _NULLABLE_STR,
            "timeZone": {"type": "string"},
        },
    },
    "ProfilePatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "Every field optional. When mentoring is enabled the resulting profile "
        "must have a bio, expertise and languages. The mentoring fields may also be sent "
        'nested under "mentoring", as GET returns them.',
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": v.NAME_MAX},
            "avatarUrl": {"type": ["string", "null"], "format": "uri"},
            "timeZone": {"type": "string", "description": "IANA time zone name"},
            "enabled": {"type": "boolean"},
            "bio": {"type": "string", "minLength": v.BIO_MIN, "maxLength": v.BIO_MAX},
            "expertise": {
                "type": "array",
                "minItems": v.EXPERTISE_MIN,
                "maxItems": v.EXPERTISE_MAX,
                "items": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX},
                "description": "Duplicates are removed case-insensitively",
            },
            "languages": {
                "type": "array",
                "minItems": v.LANGUAGES_MIN,
                "maxItems": v.LANGUAGES_MAX,
                "items": {"type": "string", "minLength": 1, "maxLength": v.TAG_MAX},
            },
            "videoIntroUrl": {
                "type": ["string", "null"],
                "description": "http(s) URL; empty or null clears it",
            },
            "goals": {"type": ["string", "null"], "maxLength": v.GOALS_MAX},
            "hourlyRate": {"type": "number", "minimum": 0, "maximum": v.HOURLY_RATE_MAX},
            "mentoring": {
                "type": "object",
                "description": "enabled, bio, expertise, languages, videoIntroUrl, goals and "
                "hourlyRate, nested",
            },
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "sessionId": {"type": "string"},
            "mentorEmail": {"type": "string", "format": "email"},
            "menteeEmail": {"type": "string", "format": "email"},
            "mentorName": {"type": "string"},
            "menteeName": {"type": "string"},
            "scheduledAt": _TIME,
            "endsAt": _TIME,
            "duration": {"type": "integer", "enum": list(v.DURATIONS)},
            "topic": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["scheduled", "completed", "cancelled"],
                "description": "Scheduled sessions past their end read as completed",
            },
            "notes": {"type": "string"},
            "cancelledBy": _NULLABLE_STR,
            "cancelReason": _NULLABLE_STR,
            "createdAt": _TIME,
            "updatedAt": _TIME,
        },
    },
    "Booking": {
        "type": "object",
        "additionalProperties": False,
        "required": ["mentorEmail", "scheduledAt", "duration", "topic"],
        "properties": {
            "mentorEmail": {"type": "string", "format": "email"},
            "scheduledAt": {
                "type": "string",
                "format": "date-time",
                "description": "In the future, on the hour or half hour, starting at or after "
                "09:00 and ending by 17:00 in the mentor's time zone",
            },
            "duration": {"type": "integer", "enum": list(v.DURATIONS)},
            "topic": {"type": "string", "minLength": v.TOPIC_MIN, "maxLength": v.TOPIC_MAX},
        },
    },
    "SessionUpdate": {
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["action", "notes"],
                "properties": {
                    "action": {"const": "update_notes"},
                    "notes": {"type": "string", "maxLength": v.NOTES_MAX},
                    "sessionId": {"type": "string"},
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["action", "reason"],
                "properties": {
                    "action": {"const": "cancel"},
                    "reason": {
                        "type": "string",
                        "minLength": v.REASON_MIN,
                        "maxLength": v.REASON_MAX,
                    },
                    "sessionId": {"type": "string"},
                },
            },
        ]
    },
    "ChatMessage": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "sessionId": {"type": "string"},
            "sender": {"type": "string", "format": "email"},
            "senderName": {"type": "string"},
            "text": {"type": "string"},
            "sentAt": _TIME,
        },
    },
}


PATHS: JsonDict = {
    "/api/auth/email": {
        "post": {
            "summary": "E-mail a single-use sign-in link",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["email"],
                            "properties": {
                                "email": {"type": "string", "format": "email"},
                                "next": {"type": "string", "description": "Local path, /..."},
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": _json(
                    {
                        "type": "object",
                        "properties": {
                            "sent": {"type": "boolean"},
                            "devLink": {
                                "type": "string",
                                "description": "Only when auth.dev_login is on",
                            },
                        },
                    },
                    "Link sent (or logged)",
                ),
                "400": _error("Bad e-mail address (field email) or next path"),
                "429": _error("Too many links requested for this address (field email)"),
                "503": _error("The e-mail could not be sent"),
            },
        }
    },
    "/auth/callback": {
        "get": {
            "summary": "Spend a sign-in link: sets the session cookie and redirects",
            "parameters": [
                {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
                _query("next", {"type": "string"}, "Local path to go to afterwards"),
            ],
            "responses": {
                "302": {
                    "description": "To next (default /mentoring/sessions) with the cookie set, "
                    "or to /signin?error=link when the link is unknown, used or expired"
                }
            },
        }
    },
    "/api/auth/signout": {
        "post": {
            "summary": "Clear the session cookie",
            "responses": {"204": {"description": "Signed out"}},
        }
    },
    "/api/me": {
        "get": {
            "summary": "Who is signed in",
            "security": _SIGNED_IN,
            "responses": {"200": _json(_ref("Me"), "The signed-in user"), **_COMMON_ERRORS},
        }
    },
    "/api/mentoring/profile": {
        "get": {
            "summary": "Your profile",
            "security": _SIGNED_IN,
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"profile": _ref("Profile")}}, "Profile"
                ),
                **_COMMON_ERRORS,
            },
        },
        "patch": {
            "summary": "Update your profile",
            "security": _SIGNED_IN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ProfilePatch")}},
            },
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"profile": _ref("Profile")}},
                    "Updated profile",
                ),
                "400": _error("A rule was broken; field names the input"),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/mentoring/discover": {
        "get": {
            "summary": "Enabled mentors, excluding yourself",
            "security": _SIGNED_IN,
            "parameters": [
                _query("expertise", {"type": "string"}, "Case-insensitive substring of a tag"),
                _query("language", {"type": "string"}, "Case-insensitive substring of a tag"),
                _query("freeOnly", {"type": "boolean"}),
                _query("page", {"type": "integer", "minimum": 1, "default": 1}),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": v.LIMIT_MAX, "default": 20},
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "mentors": {"type": "array", "items": _ref("PublicProfile")},
                            "total": {"type": "integer"},
                            "page": {"type": "integer"},
                            "limit": {"type": "integer"},
                        },
                    },
                    "A page of mentors",
                ),
                "400": _error("Bad filter; field names the parameter"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/mentoring/mentors/{email}/availability": {
        "get": {
            "summary": "Busy intervals of the mentor and of you, for the booking calendar",
            "security": _SIGNED_IN,
            "parameters": [
                {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}},
                _query("from", {"type": "string", "format": "date"}, "First day (mentor's)"),
                _query(
                    "days",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": v.AVAILABILITY_DAYS_MAX,
                        "default": 7,
                    },
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "timeZone": {"type": "string"},
                            "slotMinutes": {"type": "integer"},
                            "busy": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"start": _TIME, "end": _TIME},
                                },
                            },
                        },
                    },
                    "Busy intervals",
                ),
                "400": _error("Bad parameter"),
                "404": _error("No mentor with that address (field mentorEmail)"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/mentoring/sessions": {
        "get": {
            "summary": "Your sessions, newest first",
            "security": _SIGNED_IN,
            "parameters": [
                _query("role", {"type": "string", "enum": ["mentor", "mentee", "all"]}),
                _query(
                    "status",
                    {"type": "string", "enum": ["scheduled", "completed", "cancelled", "all"]},
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"sessions": {"type": "array", "items": _ref("Session")}},
                    },
                    "Sessions",
                ),
                "400": _error("Bad filter"),
                **_COMMON_ERRORS,
            },
        },
        "post": {
            "summary": "Book a session with a mentor",
            "security": _SIGNED_IN,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("Booking")}},
            },
            "responses": {
                "201": _json(
                    {"type": "object", "properties": {"session": _ref("Session")}}, "Booked"
                ),
                "400": _error("A rule was broken; field names the input"),
                "404": _error("Unknown mentor or mentoring disabled (field mentorEmail)"),
                "409": _error("That time is already booked (field scheduledAt)"),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/mentoring/sessions/{sessionId}": {
        "get": {
            "summary": "One session (participants only)",
            "security": _SIGNED_IN,
            "parameters": [_session_param()],
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"session": _ref("Session")}}, "Session"
                ),
                "403": _error("Not a participant"),
                "404": _error("Unknown session"),
                **_COMMON_ERRORS,
            },
        },
        "patch": {
            "summary": "Update notes or cancel (participants only)",
            "security": _SIGNED_IN,
            "parameters": [_session_param()],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("SessionUpdate")}},
            },
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"session": _ref("Session")}}, "Updated"
                ),
                "400": _error("A rule was broken; field names the input"),
                "403": _error("Not a participant"),
                "404": _error("Unknown session"),
                "409": _error("Only a scheduled session can be cancelled"),
                **_COMMON_ERRORS,
            },
        },
    },
    "/api/mentoring/sessions/{sessionId}/chat": {
        "get": {
            "summary": "Chat history of a session, oldest first (participants only)",
            "security": _SIGNED_IN,
            "parameters": [_session_param()],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"messages": {"type": "array", "items": _ref("ChatMessage")}},
                    },
                    "Messages",
                ),
                "403": _error("Not a participant"),
                "404": _error("Unknown session"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/pusher/auth": {
        "post": {
            "summary": "Sign a subscription to private-session-{id} or presence-session-{id}",
            "security": _SIGNED_IN,
            "requestBody": {
                "required": True,
                "content": {
                    media: {"schema": _PUSHER_AUTH_FIELDS}
                    for media in ("application/x-www-form-urlencoded", "application/json")
                },
            },
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["auth"],
                        "properties": {
                            "auth": {"type": "string", "description": "key:hex signature"},
                            "channel_data": {
                                "type": "string",
                                "description": 'Presence only: JSON {"user_id", "user_info": '
                                '{"name", "role"}}',
                            },
                        },
                    },
                    "Signature",
                ),
                "400": _error("Malformed form"),
                "403": _error("Not a participant, unknown session or other channel"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/ice-servers": {
        "get": {
            "summary": "STUN and TURN servers (TURN credentials are short-lived)",
            "security": _SIGNED_IN,
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "iceServers": {"type": "array", "items": {}},
                            "relay": {
                                "type": "object",
                                "properties": {
                                    "mode": {"enum": ["auto", "always", "never"]},
                                    "connectTimeoutMs": {"type": "integer"},
                                },
                            },
                        },
                    },
                    "RTCIceServer list and the media-relay fallback policy",
                ),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/relay/sessions/{session_id}/offer": {
        "post": {
            "summary": "Join the media relay: a complete SDP offer in, the answer out",
            "security": _SIGNED_IN,
            "parameters": [
                {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["sdp"],
                            "properties": {"sdp": {"type": "string"}, "type": {"const": "offer"}},
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"sdp": {"type": "string"}, "type": {"const": "answer"}},
                    },
                    "The relay's answer",
                ),
                "400": _error("Missing or malformed SDP"),
                "403": _error("Not a participant"),
                "404": _error("Unknown session"),
                "409": _error("Two participants are already relayed"),
                "503": _error("The relay is at its session limit"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/relay/sessions/{session_id}/leave": {
        "post": {
            "summary": "Leave the media relay (closes this participant's server connection)",
            "security": _SIGNED_IN,
            "parameters": [
                {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"left": {"type": "boolean"}}},
                    "Whether a connection was closed",
                ),
                "403": _error("Not a participant"),
                "404": _error("Unknown session"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/auth/loadtest": {
        "post": {
            "summary": "Load-test sign-in: Bearer auth.loadtest_token, @loadtest.invalid only",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["email"],
                            "properties": {"email": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "A session token for the test address"},
                "401": _error("Missing or wrong load-test token"),
                "404": _error("Load-test sign-in is disabled"),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}


def document() -> JsonDict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pana Mia Live API",
            "version": "1",
            "description": "Mentoring accounts, profiles, discovery, booking and sessions. "
            'Every error is {"error": message, "field": name?}.',
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "panamia_session"},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(document())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
