#!/usr/bin/env bash
# Shoal's main job, end to end on embedded defaults: starts Shoal (embedded PostgreSQL and
# Redis, filesystem object store) with its state under var/demo, mints an admin token, logs
# the CLI in, applies an example campaign, re-applies it (a no-op), applies an edited version,
# and shows the campaign, its spec history and the audit log.
#
#   bash scripts/demo.sh           run the demo, then stop Shoal
#   bash scripts/demo.sh --keep    leave Shoal running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true

bash scripts/bootstrap.sh

demo_dir="$PWD/var/demo"
rm -rf "$demo_dir"   # every run tells the same story from an empty state
mkdir -p "$demo_dir"
export SHOAL_DATA_DIR="$demo_dir/data"
export XDG_CONFIG_HOME="$demo_dir/config"   # the demo's CLI login stays out of yours
export SHOAL_API_PORT="${SHOAL_API_PORT:-8420}"
unset SHOAL_DATABASE_URL SHOAL_REDIS_URL      # embedded defaults
export SHOAL_LOG_FORMAT=json
export COLUMNS="${COLUMNS:-160}"             # wide tables when not on a terminal
url="http://127.0.0.1:${SHOAL_API_PORT}"
shoal() { uv run --locked --quiet shoal "$@"; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting Shoal (shoal up) on $url; logs in $demo_dir/shoal.log"
uv run --locked --quiet shoal up >"$demo_dir/shoal.log" 2>&1 &
up_pid=$!
stop_shoal() {
    if [ "$keep" = false ] && kill -0 "$up_pid" 2>/dev/null; then
        kill -TERM "$up_pid" 2>/dev/null || true
        wait "$up_pid" 2>/dev/null || true
    fi
}
trap stop_shoal EXIT
for _ in $(seq 1 120); do
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$up_pid" 2>/dev/null; then
        echo "shoal up exited early; its log:" >&2; tail -n 40 "$demo_dir/shoal.log" >&2; exit 1
    fi
    sleep 0.5
done
curl -fsS "$url/readyz"; echo

step "minting an admin token (shoal admin create-token --role admin)"
token=$(shoal admin create-token --role admin --name demo -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
SHOAL_TOKEN="$token" shoal login --url "$url"   # from the environment, not argv

spec=examples/bump-checkout-v4.yaml
step "validating $spec locally (shoal validate)"
shoal validate "$spec"

step "applying it (shoal apply)"
shoal apply "$spec"
step "applying it again: same spec_hash, so no new version"
shoal apply "$spec"

step "applying an edited copy: a new spec version"
edited="$demo_dir/bump-checkout-v4.edited.yaml"
sed 's/^  title: .*/  title: "ci: move workflows to actions\/checkout@v4"/' "$spec" >"$edited"
shoal apply "$edited"

step "shoal campaigns list"
shoal campaigns list
step "shoal specs history bump-checkout-v4"
shoal specs history bump-checkout-v4
step "shoal campaigns show bump-checkout-v4"
shoal campaigns show bump-checkout-v4
step "shoal audit list"
shoal audit list

if [ "$keep" = true ]; then
    printf '\nShoal keeps running (pid %s). Use the CLI with:\n  export XDG_CONFIG_HOME=%s\n  uv run shoal campaigns list\n' "$up_pid" "$XDG_CONFIG_HOME"
    trap - EXIT
fi
