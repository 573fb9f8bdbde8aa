"""The static manifest: import parsing, the room's module graph, versioned URLs."""

from __future__ import annotations

import json
from pathlib import Path

from web.routes import STATIC_DIR
from web.static_assets import IMPORT_MAP_SLOT, StaticAssets, dynamic_imports, static_imports

ROOM = "js/room/room.js"


def test_static_imports_reads_every_static_form_and_no_dynamic_one() -> None:
    source = """
import { a } from "./a.js";
import {
  b,
  c,
} from '../b.js';
import "./side-effect.js";
export { d } from "./d.js";
import * as e from "/static/js/e.js";
import json from "bare-package";
/** @param {import("./typedef.js").Type} x */
const later = () => import("./lazy.js");
"""
    assert static_imports(source) == [
        "./a.js",
        "../b.js",
        "./side-effect.js",
        "./d.js",
        "/static/js/e.js",
    ]
    assert dynamic_imports(source) == ["./typedef.js", "./lazy.js"]


def test_specifiers_resolve_against_the_importing_module(tmp_path: Path) -> None:
    (tmp_path / "js" / "room").mkdir(parents=True)
    (tmp_path / "js" / "api.js").write_text("export const api = 1;\n")
    (tmp_path / "js" / "room" / "x.js").write_text("export const x = 1;\n")
    (tmp_path / "js" / "room" / "entry.js").write_text(
        'import { api } from "../api.js";\nimport { x } from "./x.js";\n'
        'import { y } from "/static/js/room/x.js";\nconst z = () => import("./lazy.js");\n'
    )
    assets = StaticAssets.scan(tmp_path)
    assert assets.module_graph("js/room/entry.js") == [
        "js/room/entry.js",
        "js/api.js",
        "js/room/x.js",
    ]
    assert assets.preloads("js/room/entry.js") == [
        f"/static/js/api.js?v={assets.versions['js/api.js']}",
        f"/static/js/room/x.js?v={assets.versions['js/room/x.js']}",
    ]


def test_the_rooms_graph_has_what_a_join_needs_and_not_the_optional_parts() -> None:
    graph = StaticAssets.scan(STATIC_DIR).module_graph(ROOM)
    for needed in ("js/room/call.js", "js/room/signaling.js", "js/api.js", "js/room/presence.js"):
        assert needed in graph
    # Loaded with import() when first used: notes (and the Yjs bundle), websocket media,
    # the screen composite.
    for optional in (
        "js/room/notes.js",
        "vendor/yjs/yjs.bundle.js",
        "js/room/ws_media.js",
        "js/room/ws_receive.js",
        "js/room/screen_composite.js",
    ):
        assert optional not in graph
    for module in graph:
        assert (STATIC_DIR / module).is_file(), module


def test_a_changed_file_gets_a_new_url_and_the_import_map_follows(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    module = tmp_path / "js" / "a.js"
    module.write_text("export const a = 1;\n")
    before = StaticAssets.scan(tmp_path)
    module.write_text("export const a = 2;\n")
    after = StaticAssets.scan(tmp_path)
    assert before.url("js/a.js") != after.url("js/a.js")
    assert json.loads(after.import_map(["js/a.js"])) == {
        "imports": {"/static/js/a.js": after.url("js/a.js")}
    }
    assert after.url("js/missing.js") == "/static/js/missing.js"
    assert after.is_current("js/a.js", after.versions["js/a.js"])
    assert not after.is_current("js/a.js", before.versions["js/a.js"])
    assert not after.is_current("js/a.js", None)


def test_a_page_gets_the_import_map_of_the_modules_it_can_load(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "page.js").write_text(
        'import { a } from "./a.js";\nconst later = () => import("./lazy.js");\n'
    )
    for name in ("a", "lazy", "other"):
        (tmp_path / "js" / f"{name}.js").write_text(f"export const {name} = 1;\n")
    assets = StaticAssets.scan(tmp_path)
    page = (
        f"<head>{IMPORT_MAP_SLOT}"
        f'<script type="module" src="{assets.url("js/page.js")}"></script></head>'
    )
    filled, source = assets.with_import_map(page)
    assert source is not None and source.startswith("'sha256-")
    mapped = json.loads(filled.split('<script type="importmap">')[1].split("</script>")[0])
    assert sorted(mapped["imports"]) == [
        "/static/js/a.js",
        "/static/js/lazy.js",
        "/static/js/page.js",
    ]
    # No module on the page: no map, nothing to allow.
    assert assets.with_import_map(f"<head>{IMPORT_MAP_SLOT}</head>") == ("<head></head>", None)
