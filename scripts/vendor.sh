#!/usr/bin/env bash
# Rebuild the third-party browser bundles under web/static/vendor/ from the npm registry.
#
#   scripts/vendor.sh            rebuild every bundle
#   scripts/vendor.sh yjs        rebuild only the named bundles (yjs, pusher_js)
#
# Our own JavaScript has no build step; only third-party code is bundled, once, here, and the
# result is committed together with the licences of everything inside it. Needs node and npm.
#
# Each bundle is one step: a function named build_<step> listed in STEPS. To add a bundle,
# write its function and append its name to STEPS.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/web/static/vendor"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A scratch npm project; removed when the script exits.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

npm_install() {
    # npm_install DIR PACKAGE... : install packages into DIR without touching any package.json
    local dir="$1"
    shift
    mkdir -p "$dir"
    (cd "$dir" && npm init -y >/dev/null && npm install --no-save --no-audit --no-fund "$@" >&2)
}

copy_licence() {
    # copy_licence NODE_MODULES PACKAGE DEST_DIR : copy a package's licence file as PACKAGE.LICENSE
    local modules="$1" package="$2" dest="$3" file
    for file in LICENSE LICENSE.md LICENSE.txt license license.md; do
        if [ -f "$modules/$package/$file" ]; then
            cp "$modules/$package/$file" "$dest/${package//\//_}.LICENSE"
            return
        fi
    done
    echo "no licence file found for $package" >&2
    exit 1
}

# --- yjs: Y (yjs) and WebsocketProvider (y-websocket) as one ES module ----------------------
# Used by web/static/js/room/notes.js for the collaborative session notes.
build_yjs() {
    local dir="$scratch/yjs" out="$vendor/yjs"
    log "yjs: installing yjs, y-websocket and esbuild"
    npm_install "$dir" yjs y-websocket esbuild
    cat >"$dir/entry.js" <<'EOF'
import * as Y from "yjs";
export { Y };
export { WebsocketProvider } from "y-websocket";
EOF
    mkdir -p "$out"
    log "yjs: bundling"
    (cd "$dir" && npx --no-install esbuild entry.js --bundle --format=esm --minify \
        --target=es2020 --legal-comments=none --outfile="$out/yjs.bundle.js" >&2)
    # Everything that ends up in the bundle, with its licence.
    local package versions=""
    for package in yjs y-websocket y-protocols lib0; do
        copy_licence "$dir/node_modules" "$package" "$out"
        versions+="$package $(node -p "require('$dir/node_modules/$package/package.json').version")"$'\n'
    done
    printf '%s' "$versions" >"$out/VERSIONS"
    log "yjs: wrote $out/yjs.bundle.js"
}

# --- pusher-js: the stock Pusher Channels client, as npm publishes it ---------------------
# Used by the session room to talk to our hub (signaling/). No bundling: the package ships a
# built browser bundle, which is copied as is.
PUSHER_JS_VERSION="8.6.0"
build_pusher_js() {
    local dir="$scratch/pusher-js" out="$vendor/pusher-js"
    log "pusher-js: fetching pusher-js@$PUSHER_JS_VERSION"
    mkdir -p "$dir" "$out"
    local tarball
    tarball="$(cd "$dir" && npm pack --silent "pusher-js@$PUSHER_JS_VERSION")"
    tar -xzf "$dir/$tarball" -C "$dir"
    cp "$dir/package/dist/web/pusher.min.js" "$out/pusher.min.js"
    # The package spells it LICENCE; the bundle's header points at pusher.min.js.LICENSE.txt.
    cp "$dir/package/LICENCE" "$out/LICENSE"
    cp "$dir/package/dist/web/pusher.min.js.LICENSE.txt" "$out/pusher.min.js.LICENSE.txt"
    printf 'pusher-js %s\n' "$PUSHER_JS_VERSION" >"$out/VERSIONS"
    log "pusher-js: wrote $out/pusher.min.js"
}

STEPS=(yjs pusher_js)

main() {
    command -v npm >/dev/null || { echo "npm is needed to rebuild the vendor bundles" >&2; exit 2; }
    local steps=("$@") step
    [ ${#steps[@]} -gt 0 ] || steps=("${STEPS[@]}")
    for step in "${steps[@]}"; do
        if ! declare -F "build_$step" >/dev/null; then
            echo "unknown bundle '$step' (known: ${STEPS[*]})" >&2
            exit 2
        fi
        "build_$step"
    done
}

main "$@"
