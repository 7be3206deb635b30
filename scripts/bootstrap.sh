#!/usr/bin/env bash
# Installs what Shoal needs on a fresh Debian machine: uv and the locked Python environment,
# GitHub's GraphQL schema for the bundled simulator, and the system packages the tests and
# the demo use. Safe to run again (it skips what's there).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
command -v gh >/dev/null || need_apt+=(gh)  # the simulator tests drive the real gh
# The podman executor and the image builds (scripts/build-images.sh): podman with runc (crun
# refuses hybrid cgroup hosts), debootstrap for the base image, nftables for egress rules.
command -v podman >/dev/null || need_apt+=(podman)
command -v runc >/dev/null || need_apt+=(runc)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v nft >/dev/null || need_apt+=(nftables)
# The web UI's browser tests drive Debian's Chromium headless through Playwright.
command -v chromium >/dev/null || need_apt+=(chromium)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v uv >/dev/null; then
    echo "bootstrap: installing uv" >&2
    python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv sync --locked --quiet
# GitHub's GraphQL schema, which the bundled simulator serves GraphQL from (the demo needs it).
bash scripts/fetch-github-schemas.sh graphql
