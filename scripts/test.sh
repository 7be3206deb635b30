#!/usr/bin/env bash
# The whole test suite: installs what it needs, then lint, types, layer contracts and pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/spec -x`). Tests run in
# SHOAL_TEST_WORKERS pytest-xdist workers (3 by default; most end-to-end tests wait on paced
# GitHub writes rather than on the CPU); SHOAL_TEST_WORKERS=0 runs them in this process.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
bash scripts/services.sh
# GitHub's published API descriptions (the simulator's conformance oracle) and the
# JavaScript clients the simulator is tested with; both come from the npm registry.
bash scripts/fetch-github-schemas.sh
bash scripts/install-js-test-deps.sh

echo "== ruff" >&2
uv run --locked ruff check .
uv run --locked ruff format --check .
echo "== mypy --strict" >&2
uv run --locked mypy
echo "== import-linter" >&2
uv run --locked lint-imports

echo "== pytest" >&2
set +e
workers="${SHOAL_TEST_WORKERS:-3}"
parallel=()
if [ "$workers" != "0" ]; then
    parallel=(-n "$workers" --dist worksteal)
fi
uv run --locked pytest "${parallel[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
    exit 1
fi
exit "$status"
