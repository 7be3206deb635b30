"""Publishing in API commit mode end to end (`changeset.commit.mode: api`): the commit is made
through the simulator's Git Data API, signed and shown as verified, with Shoal's trailers and
the Patch's content (text, binary, executable, symlink, deletion); publishing again, or after
a worker died between the commit and recording it, writes nothing more; a protected branch
fails the changeset with the rule. Every test ends comparing the simulator's mutation ledger
with Shoal's audit log."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.changesets import Changeset, Observed
from shoal.services.reconciling import GitHubWriter, Mutation
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import (
    CREATE_PR,
    FAST,
    Crash,
    interrupted,
    publish,
    reconcile_once,
    settled,
    stored,
    without,
    worker_thread,
)

BLOBS = "POST /repos/{owner}/{repo}/git/blobs"
TREES = "POST /repos/{owner}/{repo}/git/trees"
COMMITS = "POST /repos/{owner}/{repo}/git/commits"
CREATE_REF = "POST /repos/{owner}/{repo}/git/refs"
# The step writes a binary file (NUL bytes), an executable, a symlink, and deletes a file.
STEP = r"""
echo signed >> README.md
printf 'PNG\000\001\002' > logo.png
printf '#!/bin/sh\nexit 0\n' > lint.sh && chmod +x lint.sh
ln -s README.md latest
rm old.txt
"""


def _world(repos: int) -> dict[str, Any]:
    return {
        "users": [{"login": "alice"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin"},
                "repos": [
                    {"name": f"svc-{n}", "files": {"README.md": f"# {n}\n", "old.txt": "old\n"}}
                    for n in range(repos)
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
                "installations": [{"org": "acme"}],
            }
        ],
    }


def _spec(name: str, *changeset: str) -> str:
    extra = "".join(f"  {line}\n" for line in changeset)
    return (
        f"name: {name}\non:\n  - org: acme\nsteps:\n  - name: edit\n    run: |\n"
        + "".join(f"      {line}\n" for line in STEP.strip().splitlines())
        + f'changeset:\n  title: "{name}: edit"\n  commit: {{mode: api}}\n{extra}'
    )


def _preview(stack: Stack, name: str, *changeset: str) -> None:
    done = stack.preview(_spec(name, *changeset))
    assert done["state"] == "done" and done["progress"]["patch"] >= 1, done


def _operations(stack: Stack, repo: str) -> list[str]:
    return [m["operation"] for m in stack.mutations() if m["repo"] == repo]


def _gh(stack: Stack, path: str, **params: Any) -> Any:
    with stack.sim.http(stack.sim.installation_token()) as gh:
        reply = gh.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_api_mode_opens_prs_on_verified_commits_and_publishing_again_writes_nothing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), **FAST)
    _preview(stack, "signed")
    publish(stack, "signed")
    found = settled(stack, "signed")
    assert {r: c["state"] for r, c in found.items()} == {"acme/svc-0": "open", "acme/svc-1": "open"}
    for repo in found:
        # one blob (the binary; text travels inline), one tree, one commit, the branch, the PR
        assert _operations(stack, repo) == [BLOBS, TREES, COMMITS, CREATE_REF, CREATE_PR]

    [pr] = _gh(stack, "/repos/acme/svc-1/pulls")
    sha = pr["head"]["sha"]
    commit = _gh(stack, f"/repos/acme/svc-1/commits/{sha}")
    assert commit["commit"]["verification"]["verified"] is True
    assert commit["commit"]["verification"]["reason"] == "valid"
    assert "shoal[bot]" in commit["commit"]["author"]["name"]
    message = commit["commit"]["message"]
    assert message.startswith("signed: edit\n\n")
    assert "Shoal-Campaign: signed\nShoal-Campaign-Id: " in message
    main = _gh(stack, "/repos/acme/svc-1/branches/main")["commit"]["sha"]
    assert [p["sha"] for p in commit["parents"]] == [main]
    readme = _gh(stack, "/repos/acme/svc-1/contents/README.md", ref="shoal/signed")
    assert base64.b64decode(readme["content"]) == b"# 1\nsigned\n"
    entries = {e["path"]: e for e in _gh(stack, f"/repos/acme/svc-1/git/trees/{sha}")["tree"]}
    assert "old.txt" not in entries
    assert (entries["lint.sh"]["mode"], entries["latest"]["mode"]) == ("100755", "120000")
    logo = _gh(stack, f"/repos/acme/svc-1/git/blobs/{entries['logo.png']['sha']}")
    assert base64.b64decode(logo["content"]) == b"PNG\0\1\2"
    ledger = assert_audit_matches_ledger(stack)

    publish(stack, "signed")
    again = settled(stack, "signed")
    assert stack.mutations() == ledger
    assert {r: c["pr_number"] for r, c in again.items()} == {
        r: c["pr_number"] for r, c in found.items()
    }
    assert_audit_matches_ledger(stack)


def test_a_crash_after_the_commit_writes_nothing_more_on_the_retry(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(1), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "crash")
    publish(stack, "crash")
    [changeset] = stack.get("/campaigns/crash/changesets")
    lost: list[Mutation] = []

    def commit_then_crash(
        real: GitHubWriter, changeset: Changeset, patch: Path
    ) -> tuple[Observed, list[Mutation]]:
        _, mutations = real.push(changeset, patch)
        lost.extend(mutations)
        raise Crash  # GitHub holds the commit on the branch; nothing of it was recorded

    with pytest.raises(Crash):
        reconcile_once(stack, changeset["id"], push=commit_then_crash)
    assert _operations(stack, "acme/svc-0") == [BLOBS, TREES, COMMITS, CREATE_REF]
    assert stored(stack, changeset["id"]).observed.branch_sha is None
    branch = _gh(stack, "/repos/acme/svc-0/git/ref/heads/shoal/crash")["object"]["sha"]

    stack.start_worker()
    found = settled(stack, "crash")["acme/svc-0"]
    assert found["state"] == "open", found
    # The retry found its commit on the branch (same tree, parent and message): no new one.
    assert _operations(stack, "acme/svc-0") == [BLOBS, TREES, COMMITS, CREATE_REF, CREATE_PR]
    assert stored(stack, changeset["id"]).observed.branch_sha == branch
    [pr] = _gh(stack, "/repos/acme/svc-0/pulls")
    assert pr["head"]["sha"] == branch
    ids = {m.request_id for m in lost}
    assert len(ids) == 4 and None not in ids
    assert interrupted(stack) == [("acme/svc-0", "push")]
    assert_audit_matches_ledger(without(stack, ids))


def test_a_protected_branch_fails_the_changeset_with_the_rule(
    make_stack: Callable[..., Stack],
) -> None:
    # Without the rules check the ref update itself meets the protection: GitHub's 422 is
    # the changeset's reason, and every request of the attempt is audited as the ledger has it.
    stack = make_stack(_world(2), publish_check_branch_rules=False, **FAST)
    stack.sim.admin.protect_branch("acme", "svc-0", "release/x", required_status_checks=["ci"])
    _preview(stack, "release", "branch: release/x")
    publish(stack, "release")
    found = settled(stack, "release")
    protected, free = found["acme/svc-0"], found["acme/svc-1"]
    assert (protected["state"], protected["failure_reason"]) == ("failed", "branch_protected")
    assert "refs/heads/release/x" in protected["failure_message"]
    assert "required status checks" in protected["failure_message"], protected
    assert free["state"] == "open"
    refused = [
        (e["details"]["operation"], e["outcome"], e["details"].get("error"))
        for e in stack.get("/audit", action="github.mutation", limit=1000)
        if e["repo"] == "acme/svc-0"
    ]
    assert refused[-1] == (CREATE_REF, "error", "branch_protected"), refused
    assert CREATE_PR not in _operations(stack, "acme/svc-0")
    assert_audit_matches_ledger(stack)
