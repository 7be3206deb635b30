"""The real `gh` (Debian's package) against the simulator: gh's ``github.localhost`` host is
a GitHub.com-like instance over plain HTTP, reached through a forward proxy
(:mod:`tests.sim.clients.gh_proxy`). gh opens, lists and views pull requests with its own
GraphQL documents, which the simulator validates against GitHub's schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim.clients.gh_proxy import GhProxy
from tests.sim.conftest import RunningSim, run_git

ALICE = "ghp_alice0000000000000000000000000000000"
LIST_FIELDS = "number,title,headRefName,isCrossRepository,headRepositoryOwner,isDraft,state"
VIEW_FIELDS = (
    "author,additions,deletions,maintainerCanModify,comments,reviews,headRepository,labels,"
    "reviewRequests,assignees,milestone,projectCards,reactionGroups,mergeable"
)


@pytest.fixture
def proxy(sim: RunningSim) -> Iterator[GhProxy]:
    if shutil.which("gh") is None:
        pytest.fail("gh is required (Debian: apt-get install gh)")
    with GhProxy(sim.url) as running:
        yield running


def run_gh(
    proxy: GhProxy, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """gh as alice unless ``env`` says otherwise (``GH_TOKEN``)."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GH_", "GITHUB_"))}
    env.update(
        HOME=str(home),
        GH_CONFIG_DIR=str(home / "gh"),
        GH_HOST="github.localhost",
        GH_TOKEN=ALICE,
        GH_PROMPT_DISABLED="1",
        GH_NO_UPDATE_NOTIFIER="1",
        NO_COLOR="1",
        HTTP_PROXY=proxy.url,
        http_proxy=proxy.url,  # git (libcurl) reads only the lower-case name for http
        NO_PROXY="",
        no_proxy="",
    )
    env.update(extra)
    proc = subprocess.run(
        ["gh", *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=home
    )
    return proc


def gh(proxy: GhProxy, home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = run_gh(proxy, home, *args, env=env)
    assert proc.returncode == 0, f"gh {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def push_branch(sim: RunningSim, tmp_path: Path, branch: str) -> None:
    auth = f"http.extraHeader=Authorization: token {ALICE}"
    work = tmp_path / "clone"
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/widgets.git", str(work), cwd=tmp_path)
    run_git("checkout", "-q", "-b", branch, cwd=work)
    (work / "NOTES.md").write_text("notes\n")
    run_git("add", "NOTES.md", cwd=work)
    run_git("commit", "-q", "-m", "Add notes", cwd=work)
    run_git("-c", auth, "push", "-q", "origin", branch, cwd=work)


def test_gh_creates_lists_and_views_a_pull_request(
    sim: RunningSim, proxy: GhProxy, tmp_path: Path
) -> None:
    push_branch(sim, tmp_path, "notes")
    create = ("pr", "create", "-R", "acme/widgets", "--head", "notes", "--base", "main")
    created = gh(proxy, tmp_path, *create, "--title", "Add notes", "--body", "Why: notes.")
    assert created.strip().endswith("/acme/widgets/pull/1")
    # gh looks for an open pull request of the branch first (headRepositoryOwner,
    # isCrossRepository) and refuses a second one itself.
    again = run_gh(proxy, tmp_path, *create, "--title", "Again", "--body", "")
    assert again.returncode == 1
    assert 'a pull request for branch "notes" into branch "main" already exists' in again.stderr

    with sim.http(ALICE) as alice:
        said = alice.post("/repos/acme/widgets/issues/1/comments", json={"body": "Looks fine."})
        assert said.status_code == 201, said.text
        review = alice.post(
            "/repos/acme/widgets/pulls/1/reviews", json={"event": "COMMENT", "body": "Noted."}
        )
        assert review.status_code == 200, review.text

    listed = json.loads(
        gh(proxy, tmp_path, "pr", "list", "-R", "acme/widgets", "--json", LIST_FIELDS)
    )
    assert listed == [
        {
            "number": 1,
            "title": "Add notes",
            "headRefName": "notes",
            "isCrossRepository": False,
            "headRepositoryOwner": {"id": listed[0]["headRepositoryOwner"]["id"], "login": "acme"},
            "isDraft": False,
            "state": "OPEN",
        }
    ]
    assert "Add notes" in gh(proxy, tmp_path, "pr", "list", "-R", "acme/widgets")

    view = gh(proxy, tmp_path, "pr", "view", "1", "-R", "acme/widgets")
    assert "title:\tAdd notes" in view and "author:\talice" in view
    assert "additions:\t1" in view and "Why: notes." in view
    shown = json.loads(
        gh(proxy, tmp_path, "pr", "view", "1", "-R", "acme/widgets", "--json", VIEW_FIELDS)
    )
    assert shown["author"]["login"] == "alice"
    assert (shown["additions"], shown["deletions"], shown["maintainerCanModify"]) == (1, 0, True)
    assert [c["body"] for c in shown["comments"]] == ["Looks fine."]
    assert shown["comments"][0]["authorAssociation"] == "MEMBER"
    reviews = [(r["author"]["login"], r["state"]) for r in shown["reviews"]]
    assert reviews == [("alice", "COMMENTED")]
    assert shown["headRepository"]["name"] == "widgets"
    assert proxy.graphql_problems() == []
