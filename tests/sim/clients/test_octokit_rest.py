"""@octokit/rest (npm, unmodified) works a repository the everyday way against a running
simulator, once with a personal access token and once with an App installation token; the
simulator's own state and its ledger must show every change octokit believes it made."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.sim.conftest import RunningSim

ALICE = "ghp_alice0000000000000000000000000000000"
WORLD: dict[str, Any] = {
    "users": [
        {"login": "alice", "email": "alice@example.com", "tokens": [{"token": ALICE}]},
        {"login": "bob"},
    ],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin", "bob": "member"},
            "teams": [{"slug": "reviewers", "members": ["bob"], "repos": {"*": "write"}}],
            "repos": [{"name": "tools", "files": {"README.md": "# tools\n"}}],
            "generate": [{"count": 14, "name": "svc-{i:02d}", "files": {"README.md": "# $name\n"}}],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {
                "administration": "write",
                "checks": "write",
                "contents": "write",
                "issues": "write",
                "metadata": "read",
                "pull_requests": "write",
                "statuses": "write",
            },
            "installations": [{"org": "acme"}],
        }
    ],
}


def run_everyday(js: Path, sim: RunningSim, token: str, *, check_run: bool) -> dict[str, Any]:
    argv = [
        "node",
        str(js / "everyday.mjs"),
        f"--base-url={sim.rest_url}",
        f"--token={token}",
        "--org=acme",
        "--repo=tools",
        "--team=reviewers",
        "--reviewer=bob",
        "--assignee=alice",
        "--rename-to=toolbox",
        *(["--check-run"] if check_run else []),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, f"octokit.js failed:\n{proc.stderr}"
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize(
    ("auth", "ghes"),
    [("pat", False), ("installation", False), ("installation", True)],
    ids=["pat", "installation", "installation-ghes"],
)
def test_octokit_rest_everyday_flow(
    make_sim: Callable[..., RunningSim], js_clients: Path, auth: str, ghes: bool
) -> None:
    sim = make_sim(WORLD, ghes=ghes)
    token = ALICE if auth == "pat" else sim.installation_token()

    out = run_everyday(js_clients, sim, token, check_run=auth == "installation")

    world = sim.sim.world
    # 15 repositories over pages of 10: octokit followed the Link header.
    assert sorted(out["org_repos"]) == [*(f"svc-{i:02d}" for i in range(1, 15)), "tools"]
    assert out["readme"]["text"] == "# tools\n"
    assert out["contents"]["reread"] == "# tools\nupdated by octokit\n"
    assert out["contents"]["updated_parent"] == out["contents"]["created_commit"]

    repo = world.get_repo("acme", "toolbox")
    git = sim.sim.git.open(repo.id)
    # The squash merge is one commit on main carrying both files; both branches are gone.
    assert git.ref_sha("refs/heads/main") == out["merged"]["sha"]
    assert out["merged"]["merged"] is True
    assert git.run("show", "main:NOTES.md") == b"notes\n"
    assert git.run("show", "main:README.md") == b"# tools\nupdated by octokit\n"
    assert git.ref_sha("refs/heads/everyday/feature") is None
    assert git.ref_sha("refs/heads/everyday/abandoned") is None
    assert out["deleted_ref"]["status"] == 404

    number = out["pull"]["number"]
    assert out["pull"]["labels"] == ["bug", "enhancement"]
    assert out["pull"]["requested_reviewers"] == ["bob"]
    assert out["pull"]["requested_teams"] == ["reviewers"]
    assert out["pull"]["assignees"] == ["alice"]
    assert out["read"]["listed"] == [number]
    assert out["read"]["got"]["state"] == "open"
    assert out["read"]["got"]["labels"] == ["bug", "enhancement"]
    assert out["read"]["files"] == [["NOTES.md", "added"], ["README.md", "modified"]]
    assert out["read"]["commits"] == [
        out["contents"]["created_commit"],
        out["contents"]["updated_commit"],
    ]
    assert out["status"] == {"state": "success", "context": "ci/everyday"}
    if auth == "installation":
        assert out["check_run"] == {
            "name": "everyday-check",
            "conclusion": "success",
            "head_sha": out["pull"]["head_sha"],
        }
    assert out["closed"]["state"] == "closed"
    assert out["closed"]["merged"] is False
    pulls = repo.pulls
    assert pulls[number].merged
    assert pulls[out["closed"]["number"]].state == "closed"
    assert not pulls[out["closed"]["number"]].merged

    assert out["renamed"] == {
        "name": "toolbox",
        "full_name": "acme/toolbox",
        "followed": "acme/toolbox",
    }
    assert world.find_repo("acme", "tools") is None

    assert out["errors"]["not_found"]["status"] == 404
    assert out["errors"]["not_found"]["message"] == "Not Found"
    assert out["errors"]["ref_exists"] == {
        "status": 422,
        "message": "Reference already exists",
        "errors": None,
        "documentation_url": "https://docs.github.com/"
        + ("enterprise-server@3.19/" if ghes else "")
        + "rest/git/refs#create-a-reference",
    }
    assert out["errors"]["no_commits"]["status"] == 422
    assert out["errors"]["no_commits"]["message"] == "Validation Failed"
    assert out["errors"]["no_commits"]["errors"][0]["message"].startswith("No commits between")

    # The ledger saw each write as the token's actor, none refused.
    actor = "user" if auth == "pat" else "installation"
    writes = [e for e in sim.sim.ledger.entries() if e.actor.kind == actor]
    operations = [e.operation for e in writes if e.status < 400]
    for expected in (
        "POST /repos/{owner}/{repo}/git/refs",
        "PUT /repos/{owner}/{repo}/contents/{path}",
        "POST /repos/{owner}/{repo}/pulls",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/assignees",
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
        "DELETE /repos/{owner}/{repo}/git/refs/{ref}",
        "PATCH /repos/{owner}/{repo}",
    ):
        assert expected in operations, expected
    refused = sorted((e.operation, e.status) for e in writes if e.status >= 400)
    assert refused == [
        ("POST /repos/{owner}/{repo}/git/refs", 422),
        ("POST /repos/{owner}/{repo}/pulls", 422),
    ]


def test_octokit_rest_manages_rulesets(
    make_sim: Callable[..., RunningSim], js_clients: Path
) -> None:
    sim = make_sim(WORLD)
    argv = [
        "node",
        str(js_clients / "rulesets.mjs"),
        f"--base-url={sim.rest_url}",
        f"--token={ALICE}",
        "--org=acme",
        "--repo=tools",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, f"octokit.js failed:\n{proc.stderr}"
    out = json.loads(proc.stdout)

    org_id, repo_id = out["created"]["org"]["id"], out["created"]["repo"]["id"]
    assert out["created"]["org"] == {"id": org_id, "source_type": "Organization", "source": "acme"}
    assert out["created"]["repo"]["current_user_can_bypass"] == "pull_requests_only"
    assert out["listed"] == sorted([[org_id, "Organization"], [repo_id, "Repository"]])
    assert out["main_rules"] == [
        ["deletion", "Organization", org_id],
        ["non_fast_forward", "Organization", org_id],
    ]
    assert out["release_rules"] == [
        ["creation", "Repository", repo_id],
        ["deletion", "Organization", org_id],
        ["non_fast_forward", "Organization", org_id],
    ]
    # A pull_request-mode bypass does not cover a direct ref change.
    assert out["refused"]["create"]["status"] == 422
    assert (
        "Cannot create ref due to creations being restricted."
        in (out["refused"]["create"]["message"])
    )
    assert out["refused"]["delete"]["status"] == 422
    assert "Cannot delete this branch" in out["refused"]["delete"]["message"]
    assert out["updated"] == {"enforcement": "evaluate", "reread": "evaluate"}
    assert out["release_ref"] == "refs/heads/release/1"
    assert out["after"] == {"org": 0, "repo": 0, "missing": {"status": 404, "message": "Not Found"}}

    repo = sim.sim.world.get_repo("acme", "tools")
    assert repo.rulesets == []
    assert sim.sim.world.get_org("acme").rulesets == []
    assert sim.sim.git.open(repo.id).ref_sha("refs/heads/release/1") is not None
    operations = sorted(
        {e.operation for e in sim.sim.ledger.entries() if "rulesets" in e.operation}
    )
    assert operations == [
        "DELETE /orgs/{org}/rulesets/{ruleset_id}",
        "DELETE /repos/{owner}/{repo}/rulesets/{ruleset_id}",
        "POST /orgs/{org}/rulesets",
        "POST /repos/{owner}/{repo}/rulesets",
        "PUT /repos/{owner}/{repo}/rulesets/{ruleset_id}",
    ]
