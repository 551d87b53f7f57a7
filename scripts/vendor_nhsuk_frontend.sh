#!/usr/bin/env bash
# Vendor the compiled NHS.UK frontend CSS into static/ for a server-rendered,
# no-JavaScript site that loads nothing from third parties.
#
#   scripts/vendor_nhsuk_frontend.sh            # uses the pinned version below
#   NHSUK_FRONTEND_VERSION=x.y.z scripts/vendor_nhsuk_frontend.sh
#
# The pinned version must match the Python package nhsuk-frontend-jinja
# (0.10.2 <-> nhsuk-frontend 10.6.1, see that package's README "Compatibility").
#
# What it does:
#   1. `npm pack nhsuk-frontend@VERSION` into a temp dir (no node_modules left anywhere)
#   2. copies dist/nhsuk/nhsuk-frontend.min.css -> static/nhsuk-frontend.min.css, and
#      - removes @font-face rules (they load Frutiger from https://assets.nhs.uk;
#        the font stack falls back to Arial, sans-serif)
#      - removes the sourceMappingURL comment (the .map is not shipped)
#      - rewrites url(/assets/images/<file>) -> url(/static/<file>)
#      - fails if any url()/@import still points anywhere other than /static/ or data:
#   3. copies only the SVG icons the CSS references (+ favicon.svg) flat into static/
#   4. writes static/NHSUK-FRONTEND-LICENSE.txt (upstream MIT licence)
# static/ is kept flat and text-only on purpose: app.py serves it via the single-segment
# route /static/{name} and chalicelib/web/responses.py reads files as UTF-8 text (no favicon.ico).
# Requires: npm, node, tar, gzip.
set -euo pipefail

VERSION="${NHSUK_FRONTEND_VERSION:-10.6.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC="$ROOT/static"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "Packing nhsuk-frontend@$VERSION into $TMP"
(cd "$TMP" && npm pack --silent "nhsuk-frontend@$VERSION" >/dev/null)
tar -xzf "$TMP/nhsuk-frontend-$VERSION.tgz" -C "$TMP"
PKG="$TMP/package"
DIST="$PKG/dist/nhsuk"

node -e '
  const p = require(process.argv[1]);
  if (p.version !== process.argv[2]) { console.error("version mismatch: " + p.version); process.exit(1); }
  if (p.license !== "MIT") { console.error("unexpected licence: " + p.license); process.exit(1); }
' "$PKG/package.json" "$VERSION"

mkdir -p "$STATIC"

# Transform the CSS; prints the list of referenced /static/ paths (one per line).
REFS="$(node - "$DIST/nhsuk-frontend.min.css" "$STATIC/nhsuk-frontend.min.css" <<'JS'
const fs = require("fs");
const [src, dest] = process.argv.slice(2);
let css = fs.readFileSync(src, "utf8");

const fontFaces = css.match(/@font-face\s*\{[^}]*\}/g) || [];
css = css.replace(/@font-face\s*\{[^}]*\}/g, "");
css = css.replace(/\/\*#\s*sourceMappingURL=[^*]*\*\//g, "");
css = css.replace(/url\(\s*(["']?)\/assets\/images\//g, "url($1/static/");

const bad = [];
const refs = new Set();
for (const m of css.matchAll(/url\(\s*(["']?)([^)"']*)\1\s*\)/g)) {
  const u = m[2];
  if (u.startsWith("data:")) continue;
  if (u.startsWith("/static/")) { refs.add(u); continue; }
  bad.push(u);
}
if (/@import/.test(css)) bad.push("@import present");
if (/https?:\/\//.test(css.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, ""))) bad.push("absolute http(s) URL present");
if (bad.length) { console.error("Refusing to vendor, external/unknown refs:\n" + bad.join("\n")); process.exit(1); }

fs.writeFileSync(dest, css.trim() + "\n");
console.error(`removed ${fontFaces.length} @font-face rule(s)`);
console.log([...refs].sort().join("\n"));
JS
)"

copy_asset() { # $1 = /static/<file>, taken from dist/nhsuk/assets/images/<file>
  local rel="${1#/static/}"
  [[ "$rel" != */* ]] || { echo "Nested static path not supported: $1" >&2; exit 1; }
  local from="$DIST/assets/images/$rel"
  [[ -f "$from" ]] || { echo "Missing asset referenced by CSS: $from" >&2; exit 1; }
  cp "$from" "$STATIC/$rel"
  echo "  static/$rel"
}

echo "Copying assets:"
while IFS= read -r ref; do
  [[ -n "$ref" ]] && copy_asset "$ref"
done <<<"$REFS"
copy_asset /static/favicon.svg

# Licence: the npm tarball does not ship a LICENSE file (package.json says MIT).
# Prefer one from the tarball if a future version includes it; otherwise write the
# upstream text (github.com/nhsuk/nhsuk-frontend/blob/main/LICENSE) verbatim.
LIC="$(find "$PKG" -maxdepth 1 -iname 'licen[cs]e*' | head -n1 || true)"
if [[ -n "$LIC" ]]; then
  cp "$LIC" "$STATIC/NHSUK-FRONTEND-LICENSE.txt"
else
  cat >"$STATIC/NHSUK-FRONTEND-LICENSE.txt" <<'EOF'
MIT License

Copyright (c) 2019 NHS.UK

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF
fi

CSS="$STATIC/nhsuk-frontend.min.css"
echo "nhsuk-frontend@$VERSION vendored:"
printf '  %s: %s bytes raw, %s bytes gzip -9\n' "static/nhsuk-frontend.min.css" \
  "$(wc -c <"$CSS")" "$(gzip -9c "$CSS" | wc -c)"
