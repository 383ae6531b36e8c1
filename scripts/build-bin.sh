#!/usr/bin/env bash
# Builds dist/barmanapi: the whole CLI (runserver, user, execute) as one executable made by
# `bun build --compile`, with Bun taken from the `bun` devDependency.
#
# ssh2's optional native add-ons (sshcrypto.node, cpu-features) are left out on purpose: they are
# built for this machine's Node ABI, and ssh2 falls back to its pure-JS crypto without them, so
# the binary runs on any host with the same OS and CPU family, Node or not.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${1:-dist/barmanapi}"

# npm may skip install scripts (--ignore-scripts, npm 11's allowScripts): then bun's own
# postinstall, which puts the real executable in place of a stub, has not run.
find_bun() {
  if node_modules/.bin/bun --version >/dev/null 2>&1; then
    echo node_modules/.bin/bun
    return
  fi
  if [ -f node_modules/bun/install.js ]; then
    (cd node_modules/bun && node install.js) >/dev/null 2>&1 || true
    if node_modules/.bin/bun --version >/dev/null 2>&1; then
      echo node_modules/.bin/bun
      return
    fi
  fi
  # The platform package (@oven/bun-linux-x64, …) carries the executable and needs no script.
  local candidate
  for candidate in node_modules/@oven/bun-*/bin/bun; do
    if [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
  echo "build-bin: no usable bun in node_modules; run npm ci (or npm install) first" >&2
  exit 1
}

BUN="$(find_bun)"
mkdir -p "$(dirname "$OUT")"
"$BUN" build adapters/bun/main.ts \
  --compile --bytecode --format=esm \
  --minify-syntax --minify-whitespace \
  --external '*.node' --external cpu-features \
  --outfile "$OUT"
echo "built $OUT with bun $("$BUN" --version) ($(du -h "$OUT" | cut -f1))"
