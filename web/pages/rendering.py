"""Jinja2 set-up for the server-rendered pages, and the view data every page shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from store import validation as rules
from store.models import Profile
from web.pages.availability_summary import ranges_text
from web.static_assets import STATIC_ASSETS

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

TEMPLATES = web.AppKey("page_templates", jinja2.Environment)
"""The page template environment (autoescaping on)."""


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["rate_label"] = rate_label
    env.globals["initials"] = initials
    env.globals["display_name"] = display_name
    env.globals["ranges_text"] = ranges_text
    return env


def rate_label(rate: float) -> str:
    """How an hourly rate reads on a page: "Free" or "$45/hour" ("$12.50/hour")."""
    if rate == 0:
        return "Free"
    amount = f"{rate:,.0f}" if rate == int(rate) else f"{rate:,.2f}"
    return f"${amount}/hour"


FORM_RULES: dict[str, Any] = {
    "bioMin": rules.BIO_MIN,
    "bioMax": rules.BIO_MAX,
    "expertiseMin": rules.EXPERTISE_MIN,
    "expertiseMax": rules.EXPERTISE_MAX,
    "languagesMin": rules.LANGUAGES_MIN,
    "languagesMax": rules.LANGUAGES_MAX,
    "tagMax": rules.TAG_MAX,
    "goalsMax": rules.GOALS_MAX,
    "nameMax": rules.NAME_MAX,
    "urlMax": rules.URL_MAX,
    "hourlyRateMax": rules.HOURLY_RATE_MAX,
    "durations": list(rules.DURATIONS),
    "topicMin": rules.TOPIC_MIN,
    "topicMax": rules.TOPIC_MAX,
    "reasonMin": rules.REASON_MIN,
    "reasonMax": rules.REASON_MAX,
    "chatTextMax": rules.CHAT_TEXT_MAX,
}
"""The limits of store.validation, handed to the browser so forms give the same feedback
the API enforces (the API stays the authority)."""


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""Pages run only our own files: no inline script or style, no framing by other sites."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the page header shows them."""

    email: str
    name: str
    avatar_url: str | None
    time_zone: str
    is_mentor: bool = False
    """Mentoring is enabled: the header links to the availability editor."""

    @property
    def initials(self) -> str:
        return initials(self.name or self.email)

    @classmethod
    def from_profile(cls, profile: Profile) -> Viewer:
        return cls(
            email=profile.email,
            name=display_name(profile),
            avatar_url=profile.avatar_url,
            time_zone=rules.shown_zone(profile.time_zone),
            is_mentor=profile.mentoring.enabled,
        )


def display_name(profile: Profile) -> str:
    return profile.name or rules.name_from_email(profile.email)


def initials(name: str) -> str:
    """Up to two capital letters for an avatar placeholder: "Ana María Ruiz" -> "AR"."""
    words = [w for w in name.replace("@", " ").replace(".", " ").split() if w]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    env = request.app[TEMPLATES]
    assets = request.app.get(STATIC_ASSETS)
    values: dict[str, Any] = {
        "static": lambda path: assets.url(path) if assets else f"/static/{path}",
        "module_preloads": lambda entry: assets.preloads(entry) if assets else [],
        "rules": FORM_RULES,
        "viewer": None,
        "nav": "",
        "request_path": request.path_qs,
    }
    values.update(context or {})
    body = env.get_template(template).render(values)
    import_map_source = None
    if assets is not None:
        body, import_map_source = assets.with_import_map(body)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = content_security_policy(import_map_source)
    return response


def content_security_policy(import_map_source: str | None) -> str:
    """The pages' policy; a page's import map is its one inline script, allowed by its hash."""
    if import_map_source is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' {import_map_source}"
    )
