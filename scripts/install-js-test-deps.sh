#!/usr/bin/env bash
# Installs the npm clients the simulator's client tests drive (tests/sim/clients/js) from the
# committed package-lock.json. Idempotent and quiet: skips `npm ci` when node_modules was
# installed from the same lock file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/sim/clients/js"
stamp="$dir/node_modules/.shoal-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"

[[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && exit 0

npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error --silent >/dev/null
printf '%s\n' "$want" >"$stamp"
