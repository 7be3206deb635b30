"""A preview from spec to per-repo results, over real HTTP against the GitHub simulator."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Stack
from tests.runs.recount import assert_counters_match

WORKFLOW = "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v3\n"
SECRET = "s3cr3t-Value-42"

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {
                    "name": "api",
                    "language": "Python",
                    "files": {".github/workflows/ci.yml": WORKFLOW, "README.md": "# api\n"},
                },
                {"name": "web", "language": "Go", "files": {"main.go": "package main\n"}},
                {
                    "name": "broken",
                    "language": "Go",
                    "files": {"FAIL": "x\n", ".github/workflows/ci.yml": WORKFLOW},
                },
                {"name": "skip-me", "files": {".github/workflows/ci.yml": WORKFLOW}},
                {"name": "old", "archived": True, "files": {"README.md": "old\n"}},
                {"name": "void"},
            ],
        },
        {"login": "globex", "repos": [{"name": "alpha", "files": {"a.txt": "a\n"}}]},
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "metadata": "read", "pull_requests": "write"},
            "installations": [{"org": "acme"}],
        }
    ],
}

SPEC = """\
name: bump-e2e
on:
  - org: acme
    include_archived: true
  - repos: [acme/missing, globex/alpha]
exclude:
  - repo: "acme/skip-*"
steps:
  - name: fail-if-marked
    run: test ! -f FAIL || { echo "marked to fail"; exit 3; }
  - name: bump
    run: |
      [ -d .github/workflows ] || exit 0
      sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
  - name: leak
    if: "{{ repo.name == 'api' }}"
    secrets: [API_TOKEN]
    run: |
      echo "token=$API_TOKEN"
      echo "$API_TOKEN" | base64
      printf '%s\\n' "$API_TOKEN" | fold -w 4
changeset:
  title: bump
"""


def test_preview_selects_runs_and_reports_every_repo(make_stack: Callable[..., Stack]) -> None:
    # Patches, logs and workspaces go to a real S3 server (SeaweedFS) with SigV4 credentials.
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET}, s3=True)
    run = stack.preview(SPEC)

    assert run["state"] == "done", run
    targets = stack.targets(run["id"])
    reasons = {repo: (t["included"], t["reason"]) for repo, t in targets.items()}
    assert reasons["acme/api"] == (True, "on[0] (org acme)")
    assert reasons["acme/skip-me"][0] is False and "exclude[0]" in reasons["acme/skip-me"][1]
    assert reasons["acme/old"] == (False, "archived")
    assert reasons["acme/void"][0] is False and "empty" in reasons["acme/void"][1]
    assert reasons["acme/missing"][0] is False and "not found" in reasons["acme/missing"][1]
    assert reasons["globex/alpha"][0] is False and "not installed" in reasons["globex/alpha"][1]
    assert targets["acme/api"]["base_sha"] and targets["acme/api"]["base_branch"] == "main"

    executions = stack.executions(run["id"])
    assert set(executions) == {"acme/api", "acme/web", "acme/broken"}
    assert executions["acme/api"]["state"] == "patch"
    assert executions["acme/web"]["state"] == "no_change"
    broken = executions["acme/broken"]
    assert (broken["state"], broken["reason"]) == ("failed", "step_exit_code")
    assert "fail-if-marked" in broken["message"] and "3" in broken["message"]
    assert run["progress"] | {"eta_s": None} == run["progress"] | {
        "targets": 8,
        "included": 3,
        "excluded": 5,
        "patch": 1,
        "no_change": 1,
        "failed": 1,
        "queued": 0,
        "running": 0,
        "finished": 3,
        "eta_s": None,
    }

    assert_counters_match(stack.api.ctx.db, run["id"])

    detail = stack.get(f"/runs/{run['id']}/executions/acme/api")
    assert [(f["path"], f["status"], f["added"], f["deleted"]) for f in detail["files"]] == [
        (".github/workflows/ci.yml", "modified", 1, 1)
    ]
    patch = stack.get(f"/runs/{run['id']}/executions/acme/api/patch")
    assert "-      - uses: actions/checkout@v3" in patch
    assert "+      - uses: actions/checkout@v4" in patch

    touching = stack.get(f"/runs/{run['id']}/executions", path=".github/workflows/**")
    assert [e["repo"] for e in touching] == ["acme/api"]

    log = stack.get(f"/runs/{run['id']}/executions/acme/api/log")
    encoded = base64.b64encode((SECRET + "\n").encode()).decode()
    assert "token=***" in log
    assert SECRET not in log and encoded not in log and SECRET[:4] + "\n" + SECRET[4:8] not in log
    assert SECRET not in detail["log_tail"]

    store = stack.api.ctx.blobs
    assert store.exists(
        f"workspaces/{targets['acme/api']['meta']['github_id']}/"
        f"{targets['acme/api']['base_sha']}.tar.gz"
    )
    assert store.exists(f"patches/sha256/{detail['patch_sha256'][:2]}/{detail['patch_sha256']}")

    # Preview never writes to GitHub.
    assert stack.mutations() == []


BIG_WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "big",
            "generate": [{"count": 1100, "name": "r-{i:04d}", "files": {"README.md": "# $name\n"}}],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "read", "metadata": "read"},
            "installations": [{"org": "big"}],
        }
    ],
}

BIG_SPEC = """\
name: big-search
on:
  - search: "org:big"
exclude:
  - repo: "big/r-0*"
  - repo: "big/r-10[1-9]*"
steps:
  - name: look
    run: test -f README.md
changeset:
  title: look
"""


def test_a_search_past_1000_results_finds_every_repo(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(BIG_WORLD)
    run = stack.preview(BIG_SPEC)

    assert run["state"] == "done", run
    assert run["progress"]["targets"] == 1100  # GitHub stops at 1,000 per query
    included = sorted(t["repo"] for t in stack.get(f"/runs/{run['id']}/targets", included=True))
    assert included == [f"big/r-{i:04d}" for i in [*range(1000, 1010), 1100]]
    excluded = stack.get(f"/runs/{run['id']}/targets", included=False, limit=1000)
    assert {t["reason"] for t in excluded} == {
        "exclude[0] (repo 'big/r-0*')",
        "exclude[1] (repo 'big/r-10[1-9]*')",
    }
    assert run["progress"]["no_change"] == 11
    assert 0 < run["github_requests"] <= 20, run["github_requests"]
    assert run["graphql_points"] > 0
