#!/usr/bin/env bash
# Installs GitHub's published API descriptions (npm packages) into .cache/octokit.
# The simulator's conformance tests validate every REST response against them.
# They are MIT-licensed and large (~400 MB), so they are fetched, never committed.
# Idempotent: does nothing when the pinned versions are already present.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${SHOAL_OCTOKIT_DIR:-$root/.cache/octokit}"
packages=(
  "@octokit/openapi@23.0.2"
  "@octokit/graphql-schema@15.26.1"
  "@octokit/openapi-webhooks@12.1.0"
)

installed_version() {
  local manifest="$dest/node_modules/$1/package.json"
  [[ -f "$manifest" ]] && sed -n 's/^  "version": "\(.*\)",$/\1/p' "$manifest"
}

missing=()
for spec in "${packages[@]}"; do
  name="${spec%@*}"
  version="${spec##*@}"
  [[ "$(installed_version "$name" || true)" == "$version" ]] || missing+=("$spec")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

mkdir -p "$dest"
[[ -f "$dest/package.json" ]] || printf '{"private": true}\n' >"$dest/package.json"
npm install --prefix "$dest" --no-audit --no-fund --no-save --loglevel=error --silent "${packages[@]}" >/dev/null
