#!/usr/bin/env bash
# Installs GitHub's published API descriptions (npm packages) into .cache/octokit:
#   - @octokit/graphql-schema: the schema the bundled simulator serves GraphQL from (~11 MB;
#     the demo needs it, so scripts/bootstrap.sh installs it);
#   - @octokit/openapi and @octokit/openapi-webhooks: the simulator's conformance oracle,
#     which the tests validate every REST response and webhook payload against (~400 MB);
#   - @octokit/webhooks-examples: real webhook payloads, which the tests deliver to Shoal's
#     webhook route (~9 MB).
# They are MIT-licensed and large, so they are fetched, never committed.
#
#   bash scripts/fetch-github-schemas.sh            all of them
#   bash scripts/fetch-github-schemas.sh graphql    only the GraphQL schema
#
# Idempotent: does nothing when the pinned versions are already present.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${SHOAL_OCTOKIT_DIR:-$root/.cache/octokit}"
graphql=("@octokit/graphql-schema@15.26.1")
conformance=(
  "@octokit/openapi@23.0.2"
  "@octokit/openapi-webhooks@12.1.0"
  "@octokit/webhooks-examples@7.6.1"
)
case "${1:-all}" in
  graphql) packages=("${graphql[@]}") ;;
  all) packages=("${graphql[@]}" "${conformance[@]}") ;;
  *) echo "usage: $0 [all|graphql]" >&2; exit 2 ;;
esac

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

echo "fetch-github-schemas: installing ${missing[*]} into $dest" >&2
mkdir -p "$dest"
[[ -f "$dest/package.json" ]] || printf '{"private": true}\n' >"$dest/package.json"
# --no-save keeps package.json untouched, and npm then prunes what it does not list: name
# every package already present too, so a partial install never removes another.
present=()
for spec in "${graphql[@]}" "${conformance[@]}"; do
  name="${spec%@*}"
  version="${spec##*@}"
  [[ "$(installed_version "$name" || true)" == "$version" ]] && present+=("$spec")
done
npm install --prefix "$dest" --no-audit --no-fund --no-save --loglevel=error --silent \
  "${present[@]}" "${missing[@]}" >/dev/null
