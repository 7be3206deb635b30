#!/usr/bin/env bash
# Shoal's main job, end to end on embedded defaults: starts the bundled GitHub simulator
# seeded with two organizations (a few hundred repositories of mixed languages, some archived,
# some forks), starts Shoal (embedded PostgreSQL and Redis, filesystem object storage,
# bubblewrap sandbox) with its state under var/demo, logs the CLI in, applies an example
# campaign and previews it: selection with reasons, sandboxed steps in every repository,
# patches and per-file diff summaries, and no write to GitHub. Then it publishes acme's PRs
# under a small daily budget (the rest wait for the next day), shows the PRs as GitHub serves
# them, publishes again to show nothing more is written, and checks that the audit log and
# the simulator's mutation ledger agree.
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
demo_cap=5                                  # acme's PRs a day in the demo
shoal() { uv run --locked --quiet shoal "$@"; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting the GitHub simulator (shoal sim serve --seed examples/sim-acme.yaml)"
sim_info="$demo_dir/sim.json"
uv run --locked --quiet shoal sim serve --seed examples/sim-acme.yaml --port 0 \
    --data-dir "$demo_dir/sim" -o json >"$sim_info" 2>"$demo_dir/sim.log" &
sim_pid=$!
up_pid=""
stop_all() {
    if [ "$keep" = false ]; then
        for pid in $up_pid $sim_pid; do
            if kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
            fi
        done
    fi
}
trap stop_all EXIT
for _ in $(seq 1 240); do
    if [ -s "$sim_info" ]; then break; fi
    if ! kill -0 "$sim_pid" 2>/dev/null; then
        echo "the simulator exited early; its log:" >&2; tail -n 40 "$demo_dir/sim.log" >&2; exit 1
    fi
    sleep 0.5
done
sim_field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$sim_info" "$1"; }
export SHOAL_GITHUB_API_URL="$(sim_field rest_url)"
export SHOAL_GITHUB_APP_ID="$(sim_field app_id)"
export SHOAL_GITHUB_PRIVATE_KEY_PATH="$(sim_field private_key_path)"
sim_admin_url="$(sim_field admin_url)"
# The App's webhook (the seed names shoal up's default address) goes to this Shoal, signed with
# the seed's secret.
export SHOAL_GITHUB_WEBHOOK_SECRET=shoal-demo-webhook-secret
curl -fsS -X PUT "$sim_admin_url/apps/$SHOAL_GITHUB_APP_ID/webhook" \
    -H "authorization: Bearer $(sim_field admin_token)" -H 'content-type: application/json' \
    -d "{\"url\": \"$url/api/v1/github/webhooks\", \"active\": true}" >/dev/null
echo "simulated GitHub at $SHOAL_GITHUB_API_URL (App id $SHOAL_GITHUB_APP_ID)"

step "starting Shoal (shoal up) on $url; logs in $demo_dir/shoal.log"
uv run --locked --quiet shoal up >"$demo_dir/shoal.log" 2>&1 &
up_pid=$!
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

step "applying it (shoal apply); applying it again is a no-op"
shoal apply "$spec"
shoal apply "$spec"

step "previewing it (shoal preview): select, run the step in a sandbox per repository, diff"
shoal preview bump-checkout-v4
run_id=$(shoal runs list bump-checkout-v4 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

step "why repositories were left out (shoal runs targets $run_id --excluded)"
shoal runs targets "$run_id" --excluded --limit 15

step "which repositories the patches touch under .github/workflows/ (shoal runs show --path)"
shoal runs show "$run_id" --path '.github/workflows/**' --limit 10

step "one patch (shoal diff bump-checkout-v4 acme/payments)"
shoal diff bump-checkout-v4 acme/payments

step "its log (shoal runs logs $run_id acme/payments)"
shoal runs logs "$run_id" acme/payments

ledger_size() { python3 scripts/demo_checks.py "$sim_info" ledger-size; }
step "the preview wrote nothing to GitHub: the simulator's mutation ledger"
mutations=$(ledger_size)
echo "mutations recorded by the simulator: $mutations"
[ "$mutations" = 0 ] || { echo "a preview must not write to GitHub" >&2; exit 1; }

step "acme's publish budget for the demo: ${demo_cap} new PRs a day (shoal budgets set acme ${demo_cap})"
shoal budgets set acme "$demo_cap"

step "publishing acme (shoal publish bump-checkout-v4 --org acme --wait): ${demo_cap} PRs today, the rest wait for the next budget day"
shoal publish bump-checkout-v4 --org acme --wait

step "shoal status bump-checkout-v4: states, budget used and left, when the next PR goes out"
shoal status bump-checkout-v4

step "the open PRs (shoal changesets bump-checkout-v4 --state open)"
shoal changesets bump-checkout-v4 --state open
opened=$(shoal changesets bump-checkout-v4 --state open -o json \
    | python3 -c 'import json,sys; print(" ".join(c["repo"] for c in json.load(sys.stdin)[:2]))')
[ -n "$opened" ] || { echo "publishing opened no PR" >&2; exit 1; }

step "two of the PRs as GitHub serves them: every field of the spec's template is set"
# shellcheck disable=SC2086 # one argument per repository
python3 scripts/demo_checks.py "$sim_info" show-prs shoal/bump-checkout-v4 $opened

step "publishing again writes nothing (same commits, PRs already open, the rest still waiting)"
before=$(ledger_size)
shoal publish bump-checkout-v4 --org acme --wait >/dev/null
after=$(ledger_size)
echo "simulator mutations before: $before, after: $after"
[ "$before" = "$after" ] || { echo "a second publish must not write again" >&2; exit 1; }

step "the web UI ($url/ui/): signed in with the token, the campaign page shows what shoal status says"
shoal status bump-checkout-v4 -o json \
    | SHOAL_TOKEN="$token" python3 scripts/demo_checks.py "$sim_info" ui-matches-status "$url" bump-checkout-v4

step "shoal audit list --action github.mutation: one row per GitHub mutation"
shoal audit list --action github.mutation --limit 12

step "the audit log and the simulator's ledger tell the same story (shoal audit export, verify)"
shoal audit export | python3 scripts/demo_checks.py "$sim_info" audit-matches-ledger
shoal audit verify

step "no secret in Shoal's log: the webhook secret, the API token, an installation token (ghs_...)"
if grep -q -F -e "$SHOAL_GITHUB_WEBHOOK_SECRET" -e "$token" "$demo_dir/shoal.log" \
    || grep -q -E 'ghs_[A-Za-z0-9]{16,}' "$demo_dir/shoal.log"; then
    echo "a secret is in $demo_dir/shoal.log" >&2
    exit 1
fi
echo "none in $(wc -l <"$demo_dir/shoal.log") log lines; stored secrets are sealed with the key in $SHOAL_DATA_DIR/encryption.keys"

if [ "$keep" = true ]; then
    cat <<EOF2

Shoal (pid $up_pid, $url) and the simulated GitHub (pid $sim_pid, $SHOAL_GITHUB_API_URL) keep
running. To use them from another shell:

  cd $PWD
  export XDG_CONFIG_HOME=$XDG_CONFIG_HOME   # the CLI's login to the demo
  export SHOAL_DATA_DIR=$SHOAL_DATA_DIR     # for local commands (shoal admin ...)
  uv run shoal status bump-checkout-v4
  uv run shoal changesets bump-checkout-v4

The web UI: $url/ui/ (sign in with an API token: uv run shoal admin create-token --role admin).
The simulator's admin API: $sim_admin_url (token in $sim_info).
Stop both with: kill $up_pid $sim_pid
EOF2
    trap - EXIT
fi
