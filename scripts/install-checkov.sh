#!/usr/bin/env bash
# Installs checkov (PyPI) into .cache/checkov, a virtualenv of its own: its pinned
# dependencies (an older boto3, packaging and pytest among them) do not resolve together with
# Shoal's lock, so it is not a dev dependency. The manifest tests run .cache/checkov/bin/checkov.
# Idempotent and quiet: skips the install when the pinned version is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="3.3.30"
mkdir -p "$root/.cache"
# The venv's scripts name their interpreter by absolute path: use the cache's real location,
# so a checkout whose .cache is a link to a shared one does not leave paths through itself.
cache="$(cd "$root/.cache" && pwd -P)"
venv="$cache/checkov"
stamp="$venv/.shoal-checkov-version"

# Test processes may run this at the same time: one installs, the others wait for it.
exec 9>"$cache/checkov.lock"
flock 9

[[ -f "$stamp" && "$(cat "$stamp")" == "$version" ]] && "$venv/bin/checkov" --version \
  >/dev/null 2>&1 && exit 0

rm -rf "$venv"
uv venv --quiet --python 3.11 "$venv"
uv pip install --quiet --python "$venv/bin/python" "checkov==$version"
printf '%s\n' "$version" >"$stamp"
