#!/usr/bin/env bash
# Checks the Helm chart deploy/helm/shoal: renders it for its default values (values.yaml
# plus ci/minimal-values.yaml, the image digests values.yaml cannot default) and for the
# GHES + external services example; `helm lint --strict` for Kubernetes 1.30 and 1.34; every
# rendered manifest of a Kubernetes kind validated by kubernetes-validate --strict for
# Kubernetes 1.30 through 1.34 (the ServiceMonitor and PrometheusRule, custom resources, have no schema there); checkov's Kubernetes checks on the rendered manifests with no failure outside
# deploy/helm/check/checkov-skips.txt; and values.schema.json refusing a bad values file with
# a message naming each bad value.
#
# Helm: `helm` from PATH when there is one; otherwise Helm's SDK through helm-python-sdk (a
# dev dependency shipping Helm's Go code as a library: scripts/helm_sdk.py), because Helm's
# release binaries are not downloadable everywhere Shoal is built. checkov's `helm` framework
# shells out to a `helm` binary to render the chart and then runs the Kubernetes checks on
# the output; this script renders with Helm itself and runs those checks on the same output,
# and adds the `helm` framework when a binary is there.
#
# Prints one summary line: `manifests: N, kubernetes-validate failures: N, checkov failed: N`.
# Exits non-zero when any check fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
chart=deploy/helm/shoal
check=deploy/helm/check
namespace=shoal
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failures=0

helm_cmd() {  # helm_cmd template|lint [--kube-version V] -f FILE...
  local command="$1"
  shift
  if command -v helm >/dev/null 2>&1; then
    if [[ "$command" == template ]]; then
      helm template shoal "$chart" --namespace "$namespace" "$@"
    else
      helm lint "$chart" --strict --namespace "$namespace" "$@"
    fi
  else
    uv run --quiet python scripts/helm_sdk.py "$command" "$chart" --namespace "$namespace" "$@"
  fi
}

# --- render -------------------------------------------------------------------------------
declare -A sets=(
  [default]="-f $chart/ci/minimal-values.yaml"
  [ghes-external]="-f $chart/examples/ghes-external.yaml"
)
for name in "${!sets[@]}"; do
  # shellcheck disable=SC2086  # the flags are words
  if ! helm_cmd template ${sets[$name]} >"$out/$name.yaml" 2>"$out/$name.err"; then
    echo "render $name: FAILED" >&2
    cat "$out/$name.err" >&2
    failures=$((failures + 1))
  fi
  for version in v1.30.0 v1.34.0; do
    # shellcheck disable=SC2086
    if ! helm_cmd lint --kube-version "$version" ${sets[$name]} >"$out/lint.log" 2>&1; then
      echo "helm lint $name ($version): FAILED" >&2
      cat "$out/lint.log" >&2
      failures=$((failures + 1))
    fi
  done
done

# --- kubernetes-validate --strict, 1.30 through 1.34 ----------------------------------------
read -r manifests validate_failures < <(uv run --quiet python - "$out"/*.yaml <<'PY'
import sys

import kubernetes_validate
import yaml

docs = []
for path in sys.argv[1:]:
    with open(path) as f:
        docs += [(path, d) for d in yaml.safe_load_all(f) if d]
failed = 0
# Custom resources (the Prometheus Operator's ServiceMonitor and PrometheusRule) have no schema among
# kubernetes-validate's, which cover Kubernetes' own kinds: they are counted, not validated.
custom = [d for _, d in docs if d["apiVersion"].split("/")[0] == "monitoring.coreos.com"]
if custom:
    kinds = ", ".join(sorted({d["kind"] for d in custom}))
    print(f"kubernetes-validate: {len(custom)} custom resource(s) ({kinds}) not validated", file=sys.stderr)
for path, doc in docs:
    if any(doc is d for d in custom):
        continue
    for version in ("1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            failed += 1
            name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            print(f"kubernetes-validate {version} {path}: {name}: {exc}", file=sys.stderr)
print(len(docs), failed)
PY
)
failures=$((failures + validate_failures))
if [[ "$manifests" -eq 0 ]]; then
  echo "no manifest rendered" >&2
  failures=$((failures + 1))
fi

# --- checkov ------------------------------------------------------------------------------
bash scripts/install-checkov.sh
skips="$(grep -v '^#' "$check/checkov-skips.txt" | awk 'NF {print $1}' | paste -sd, -)"
mkdir -p "$out/checkov"
cp "$out"/default.yaml "$out"/ghes-external.yaml "$out/checkov/"
frameworks=(kubernetes)
targets=(-d "$out/checkov")
if command -v helm >/dev/null 2>&1; then
  frameworks=(kubernetes helm)
  targets+=(-d "$chart")
fi
.cache/checkov/bin/checkov "${targets[@]}" --framework "${frameworks[@]}" --skip-check "$skips" \
  --output json --quiet >"$out/checkov.json" 2>"$out/checkov.err" || true
checkov_failed="$(uv run --quiet python - "$out/checkov.json" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    text = f.read().strip()
reports = json.loads(text) if text else []
reports = reports if isinstance(reports, list) else [reports]
failed = 0
for report in reports:
    for check in report.get("results", {}).get("failed_checks", []):
        failed += 1
        print(f"checkov {check['check_id']} {check['resource']}: {check['check_name']}", file=sys.stderr)
passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
if not passed:
    print("checkov ran no check", file=sys.stderr)
    failed += 1
print(failed)
PY
)"
failures=$((failures + checkov_failed))

# --- the schema refuses a bad values file ---------------------------------------------------
if helm_cmd template -f "$check/bad-values.yaml" >/dev/null 2>"$out/bad.err"; then
  echo "values.schema.json accepted $check/bad-values.yaml" >&2
  failures=$((failures + 1))
else
  for expected in /image/digest /api/replicas /worker/terminationGracePeriodSeconds \
    /egressAllow/0 /retention/logDays /oidc/roles ingres; do
    if ! grep -q -- "$expected" "$out/bad.err"; then
      echo "the schema's refusal does not name $expected:" >&2
      cat "$out/bad.err" >&2
      failures=$((failures + 1))
    fi
  done
fi

echo "manifests: $manifests, kubernetes-validate failures: $validate_failures, checkov failed: $checkov_failed"
[[ "$failures" -eq 0 ]]
