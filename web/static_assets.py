"""The static files' manifest: content-hashed URLs, an import map and module preloads.

Scanned once when the app is built (a deploy restarts the server). Three uses:

- ``url(path)``: ``/static/<path>?v=<hash>``. A response for the current hash may be cached for
  a year without asking again (``Cache-Control: immutable``); any other static response must be
  revalidated (ETag/Last-Modified, answered 304 by aiohttp), so a changed file is never stale.
- ``import_map(entries)``: ES modules import each other by plain relative paths
  (``./call.js``). The import map, placed before any module script, rewrites every URL the
  page's modules can reach (``import`` and ``import()``) to its versioned one, so module imports
  get the same year-long caching and stay consistent after a deploy. ``render`` adds it to a
  page from the module scripts the page names (``with_import_map``).
- ``preloads(entry)``: every module ``entry`` imports statically, directly or not, as
  versioned URLs for ``<link rel="modulepreload">``. Without them the browser discovers the
  graph level by level (a round trip per level); with them it fetches the graph at once.
  Generated from the files' own import statements, so the list cannot go stale; modules only
  loaded with ``import()`` are left out on purpose (they load when needed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aiohttp import web

STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# `import ... from "x"`, `import "x"` and `export ... from "x"` at the start of a line (a
# dynamic `import("x")` and JSDoc's `{import("x").Type}` do not match: no `(` is allowed).
_STATIC_IMPORT = re.compile(
    r"""^[ \t]*(?:import|export)\s*(?:[\w$*{},\s]+?\s*from\s*)?["']([^"'\n]+)["']""",
    re.MULTILINE,
)


# `import("x")`: loaded when first used. JSDoc's `{import("x").Type}` matches too; harmless,
# it only adds a module the page could load anyway to the import map.
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["']([^"'\n]+)["']\s*\)""")
# The module scripts a rendered page names, by their static URLs.
_PAGE_MODULE = re.compile(
    r"""<(?:script type="module" src|link rel="modulepreload" href)="/static/([^"?]+)"""
)
IMPORT_MAP_SLOT = "<!-- import map -->"
"""Where base.html wants the import map (``with_import_map`` fills it)."""


def _relative(specs: list[str]) -> list[str]:
    return [spec for spec in specs if spec.startswith(("./", "../", "/"))]


def static_imports(source: str) -> list[str]:
    """The relative specifiers a module's source imports statically, in order."""
    return _relative(_STATIC_IMPORT.findall(source))


def dynamic_imports(source: str) -> list[str]:
    """The relative specifiers a module's source loads with ``import()``."""
    return _relative(_DYNAMIC_IMPORT.findall(source))


def _version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


@dataclass(frozen=True)
class StaticAssets:
    """Content hashes and the static import graph of every file under one directory."""

    versions: dict[str, str]
    """Relative path (``js/room/call.js``) -> content hash of every file."""
    imports: dict[str, tuple[str, ...]]
    """Relative path of each ``.js`` module -> the modules it imports statically."""
    dynamic: dict[str, tuple[str, ...]]
    """Relative path of each ``.js`` module -> the modules it loads with ``import()``."""

    @classmethod
    def scan(cls, root: Path) -> StaticAssets:
        versions: dict[str, str] = {}
        imports: dict[str, tuple[str, ...]] = {}
        dynamic: dict[str, tuple[str, ...]] = {}
        for file in sorted(root.rglob("*")):
            if not file.is_file():
                continue
            relative = file.relative_to(root).as_posix()
            content = file.read_bytes()
            versions[relative] = _version(content)
            if file.suffix == ".js":
                source = content.decode("utf-8", errors="replace")
                imports[relative] = tuple(_resolve(relative, s) for s in static_imports(source))
                dynamic[relative] = tuple(_resolve(relative, s) for s in dynamic_imports(source))
        return cls(versions, imports, dynamic)

    def url(self, path: str) -> str:
        """The URL of ``path`` (relative to the static root), versioned when the file exists."""
        version = self.versions.get(path)
        return f"{STATIC_PREFIX}{path}" + (f"?v={version}" if version else "")

    def is_current(self, path: str, version: str | None) -> bool:
        return version is not None and self.versions.get(path) == version

    def module_graph(self, entry: str, *, with_dynamic: bool = False) -> list[str]:
        """``entry`` and every module it imports statically, directly or not (entry first);
        ``with_dynamic``: and every module that may be loaded later with ``import()``."""
        seen: dict[str, None] = {}
        pending = [entry]
        while pending:
            module = pending.pop(0)
            if module in seen or module not in self.imports:
                continue
            seen[module] = None
            pending.extend(self.imports[module])
            if with_dynamic:
                pending.extend(self.dynamic[module])
        return list(seen)

    def preloads(self, entry: str) -> list[str]:
        """Versioned URLs to ``modulepreload`` for ``entry`` (the entry itself excluded)."""
        return [self.url(module) for module in self.module_graph(entry)[1:]]

    def import_map(self, entries: Iterable[str]) -> str:
        """The import map's JSON for a page loading ``entries``: each module the page may
        load, by its plain URL -> its versioned URL."""
        modules = sorted(
            {m for entry in entries for m in self.module_graph(entry, with_dynamic=True)}
        )
        mapping = {f"{STATIC_PREFIX}{path}": self.url(path) for path in modules}
        # Inside a <script> element: no "<" may end it early.
        return json.dumps({"imports": mapping}, separators=(",", ":")).replace("<", "\\u003c")

    def with_import_map(self, page: str) -> tuple[str, str | None]:
        """``page`` with the import map for its module scripts in base.html's slot, and the
        map's hash as a CSP source (None: the page loads no module, so no map)."""
        entries = list(dict.fromkeys(_PAGE_MODULE.findall(page)))
        if IMPORT_MAP_SLOT not in page or not entries:
            return page.replace(IMPORT_MAP_SLOT, ""), None
        text = self.import_map(entries)
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        element = f'<script type="importmap">{text}</script>'
        return page.replace(IMPORT_MAP_SLOT, element, 1), f"'sha256-{digest}'"


def _resolve(module: str, specifier: str) -> str:
    """The static-root-relative path a specifier in ``module`` points at."""
    if specifier.startswith("/"):
        target = PurePosixPath(specifier.removeprefix(STATIC_PREFIX))
    else:
        target = PurePosixPath(module).parent / specifier
    parts: list[str] = []
    for part in target.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


STATIC_ASSETS = web.AppKey("static_assets", StaticAssets)


async def cache_static(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: year-long caching for current versioned URLs, else revalidate."""
    if not request.path.startswith(STATIC_PREFIX) or "Cache-Control" in response.headers:
        return
    if response.status not in (200, 304):
        return
    assets = request.app.get(STATIC_ASSETS)
    path = request.path.removeprefix(STATIC_PREFIX)
    current = assets is not None and assets.is_current(path, request.query.get("v"))
    response.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
