"""The real `gh` (Debian's package) through a pull request's life against the simulator:
created with labels, reviewers (a user and a team) and an assignee, commented on,
reviewed, checked, merged three ways, closed, reopened and marked ready. gh resolves
names with its own metadata queries and changes the pull request with its own mutations;
each change is checked over REST, so REST and GraphQL share one pull-request engine.

Every GraphQL document gh sends passes GitHub's schema (an invalid one would be answered
without ``data``), and none touches a field the simulator leaves unimplemented."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal_sim.state.pull_events import PullRequestChanged
from tests.sim.clients.gh_proxy import GhProxy
from tests.sim.clients.test_gh_cli import ALICE, gh, run_gh
from tests.sim.conftest import BASE_WORLD, RunningSim, run_git

CAROL = "ghp_carol000000000000000000000000000000000"
BOB = "ghp_bob000000000000000000000000000000000"  # an acme member: read access
PR_FIELDS = (
    "commits,statusCheckRollup,reviewDecision,mergeStateStatus,latestReviews,files,labels,"
    "assignees,reviewRequests,state,isDraft"
)


def gh_world() -> dict[str, Any]:
    world = copy.deepcopy(BASE_WORLD)
    world["users"].append(
        {"login": "carol", "email": "carol@example.com", "tokens": [{"token": CAROL}]}
    )
    acme = world["orgs"][0]
    acme["members"]["carol"] = "member"
    acme["teams"] = [
        {
            "slug": "platform",
            "name": "Platform",
            "members": ["carol"],
            "repos": {"widgets": "push", "gadgets": "push"},
        }
    ]
    world["apps"][0]["permissions"].update(checks="write", statuses="write")
    return world


@pytest.fixture
def gsim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(gh_world())


@pytest.fixture
def proxy(gsim: RunningSim) -> Iterator[GhProxy]:
    with GhProxy(gsim.url) as running:
        yield running


def push_branch(tmp_path: Path, sim: RunningSim, repo: str, branch: str) -> str:
    """A commit by alice with a co-author, pushed with the git CLI; returns its sha."""
    auth = f"http.extraHeader=Authorization: token {ALICE}"
    work = tmp_path / f"clone-{repo}-{branch}"
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/{repo}.git", str(work), cwd=tmp_path)
    run_git("checkout", "-q", "-b", branch, cwd=work)
    (work / f"{branch}.md").write_text(f"{branch}\n")
    run_git("add", "-A", cwd=work)
    message = f"Add {branch}\n\nCo-authored-by: Eve <eve@example.com>\n"
    run_git("commit", "-q", "--author", "Alice <alice@example.com>", "-m", message, cwd=work)
    run_git("-c", auth, "push", "-q", "origin", branch, cwd=work)
    return run_git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_gh_creates_a_pull_request_with_labels_reviewers_and_assignees(
    gsim: RunningSim, proxy: GhProxy, tmp_path: Path
) -> None:
    push_branch(tmp_path, gsim, "widgets", "notes")
    create = ("pr", "create", "-R", "acme/widgets", "--head", "notes", "--title", "Add notes")
    # An unknown label is gh's own refusal (the label resolves to null), before creating.
    unknown = run_gh(proxy, tmp_path, *create, "--body", "", "--label", "no-such-label")
    assert unknown.returncode == 1
    assert "'no-such-label' not found" in unknown.stderr
    assert gsim.sim.world.find_repo("acme", "widgets").pulls == {}  # type: ignore[union-attr]

    events: list[PullRequestChanged] = []  # what the pull_request webhooks are built from
    gsim.sim.events.subscribe(PullRequestChanged, events.append)
    people = ("--reviewer", "carol,acme/platform", "--assignee", "alice")
    labels = ("--label", "bug,documentation")
    created = gh(proxy, tmp_path, *create, "--body", "Why.", *labels, *people)
    assert created.strip().endswith("/acme/widgets/pull/1")
    with gsim.http(ALICE) as alice:
        pull = alice.get("/repos/acme/widgets/pulls/1").json()
    assert sorted(label["name"] for label in pull["labels"]) == ["bug", "documentation"]
    assert [a["login"] for a in pull["assignees"]] == ["alice"]
    assert [u["login"] for u in pull["requested_reviewers"]] == ["carol"]
    assert [t["slug"] for t in pull["requested_teams"]] == ["platform"]
    assert [e.action for e in events] == [
        "opened",
        "assigned",
        "labeled",
        "labeled",
        "review_requested",
        "review_requested",
    ]
    done = [e.operation for e in gsim.sim.ledger.entries() if e.operation.startswith("mutation")]
    assert done == [
        "mutation createPullRequest",
        "mutation updatePullRequest",
        "mutation requestReviews",
    ]

    shown = json.loads(
        gh(proxy, tmp_path, "pr", "view", "1", "-R", "acme/widgets", "--json", PR_FIELDS)
    )
    # gh names a requested team by its combined slug.
    asked = [r.get("login") or r.get("slug") for r in shown["reviewRequests"]]
    assert asked == ["carol", "acme/platform"]
    assert [a["login"] for a in shown["assignees"]] == ["alice"]
    assert proxy.graphql_problems() == []


def test_gh_comments_reviews_checks_and_merges(
    gsim: RunningSim, proxy: GhProxy, tmp_path: Path
) -> None:
    head = push_branch(tmp_path, gsim, "widgets", "notes")
    repo = ("-R", "acme/widgets")
    gh(
        proxy,
        tmp_path,
        "pr",
        "create",
        *repo,
        "--head",
        "notes",
        "--title",
        "Add notes",
        "--body",
        "Why.",
    )
    commented = gh(proxy, tmp_path, "pr", "comment", "1", *repo, "--body", "Looks fine.")
    with gsim.http(ALICE) as alice:
        said = alice.get("/repos/acme/widgets/issues/1/comments").json()
    assert [c["body"] for c in said] == ["Looks fine."]
    assert commented.strip().endswith(f"/acme/widgets/pull/1#issuecomment-{said[0]['id']}")
    gh(proxy, tmp_path, "pr", "review", "1", *repo, "--comment", "--body", "Noted.")

    shown = json.loads(gh(proxy, tmp_path, "pr", "view", "1", *repo, "--json", PR_FIELDS))
    assert shown["reviewDecision"] == "REVIEW_REQUIRED"
    assert [(r["author"]["login"], r["state"]) for r in shown["latestReviews"]] == [
        ("alice", "COMMENTED")
    ]
    commit = shown["commits"][0]
    assert commit["oid"] == head and commit["messageHeadline"] == "Add notes"
    assert [(a["name"], a["login"]) for a in commit["authors"]] == [("Alice", "alice"), ("Eve", "")]
    assert [(f["path"], f["additions"]) for f in shown["files"]] == [("notes.md", 1)]
    assert shown["statusCheckRollup"] == []

    # No checks yet: gh says so and fails.
    none = run_gh(proxy, tmp_path, "pr", "checks", "1", *repo)
    assert none.returncode == 1 and "no checks reported" in none.stderr
    with gsim.http(ALICE) as alice:
        status = alice.post(
            f"/repos/acme/widgets/statuses/{head}", json={"state": "success", "context": "ci/test"}
        )
        assert status.status_code == 201, status.text
    with gsim.http(gsim.installation_token()) as app:
        run = app.post(
            "/repos/acme/widgets/check-runs",
            json={"name": "lint", "head_sha": head, "status": "completed", "conclusion": "success"},
        )
        assert run.status_code == 201, run.text
    checks = gh(proxy, tmp_path, "pr", "checks", "1", *repo)
    assert "ci/test" in checks and "lint" in checks and "pass" in checks
    shown = json.loads(gh(proxy, tmp_path, "pr", "view", "1", *repo, "--json", PR_FIELDS))
    rollup = {c.get("context") or c.get("name"): c for c in shown["statusCheckRollup"]}
    assert (
        rollup["ci/test"]["state"] == "SUCCESS"
        and rollup["ci/test"]["__typename"] == "StatusContext"
    )
    assert (rollup["lint"]["status"], rollup["lint"]["conclusion"]) == ("COMPLETED", "SUCCESS")
    assert (shown["reviewDecision"], shown["mergeStateStatus"]) == ("REVIEW_REQUIRED", "BLOCKED")
    required = (
        '{repository(owner:"acme",name:"widgets"){pullRequest(number:1){commits(last:1)'
        "{nodes{commit{statusCheckRollup{contexts(first:10){nodes{"
        "...on StatusContext{context isRequired(pullRequestNumber:1)}"
        "...on CheckRun{name isRequired(pullRequestNumber:1)}}}}}}}}}}"
    )
    with gsim.http(ALICE) as alice:
        answer = alice.post("/graphql", json={"query": required}).json()
    commit_node = answer["data"]["repository"]["pullRequest"]["commits"]["nodes"][0]["commit"]
    contexts = commit_node["statusCheckRollup"]["contexts"]["nodes"]
    assert {c.get("context") or c.get("name"): c["isRequired"] for c in contexts} == {
        "ci/test": True,  # branch protection requires it
        "lint": False,
    }

    # bob only reads acme's repositories: he may comment and approve, as on GitHub, but his
    # approval does not count toward the required review.
    bob = {"GH_TOKEN": BOB}
    gh(proxy, tmp_path, "pr", "comment", "1", *repo, "--body", "A reader's note.", env=bob)
    gh(proxy, tmp_path, "pr", "review", "1", *repo, "--approve", env=bob)
    shown = json.loads(gh(proxy, tmp_path, "pr", "view", "1", *repo, "--json", PR_FIELDS))
    assert ("bob", "APPROVED") in [
        (r["author"]["login"], r["state"]) for r in shown["latestReviews"]
    ]
    assert shown["reviewDecision"] == "REVIEW_REQUIRED"
    edit = run_gh(proxy, tmp_path, "pr", "edit", "1", *repo, "--title", "Mine", env=bob)
    assert (
        edit.returncode == 1 and "Resource not accessible by personal access token" in edit.stderr
    )

    # carol (write access through her team) approves; the required review is met.
    carol_env = {"GH_TOKEN": CAROL}
    gh(proxy, tmp_path, "pr", "review", "1", *repo, "--approve", env=carol_env)
    shown = json.loads(gh(proxy, tmp_path, "pr", "view", "1", *repo, "--json", PR_FIELDS))
    assert (shown["reviewDecision"], shown["mergeStateStatus"]) == ("APPROVED", "CLEAN")
    assert gh(proxy, tmp_path, "pr", "merge", "1", *repo, "--squash", "--delete-branch") is not None
    with gsim.http(ALICE) as alice:
        merged = alice.get("/repos/acme/widgets/pulls/1").json()
        assert merged["merged"] is True and merged["merged_by"]["login"] == "alice"
        tip = alice.get("/repos/acme/widgets/commits/main").json()
        assert tip["commit"]["message"].startswith("Add notes (#1)")
        assert alice.get("/repos/acme/widgets/branches/notes").status_code == 404
    assert proxy.graphql_problems() == []


def test_gh_merges_rebases_closes_reopens_and_readies(
    gsim: RunningSim, proxy: GhProxy, tmp_path: Path
) -> None:
    repo = ("-R", "acme/gadgets")
    for branch in ("one", "two", "three"):
        push_branch(tmp_path, gsim, "gadgets", branch)
        gh(
            proxy,
            tmp_path,
            "pr",
            "create",
            *repo,
            "--head",
            branch,
            "--title",
            f"PR {branch}",
            "--body",
            "",
        )
    gh(proxy, tmp_path, "pr", "merge", "1", *repo, "--merge")
    gh(proxy, tmp_path, "pr", "merge", "2", *repo, "--rebase")
    with gsim.http(ALICE) as alice:
        log = alice.get("/repos/acme/gadgets/commits", params={"sha": "main"}).json()
        subjects = [c["commit"]["message"].split("\n")[0] for c in log[:3]]
        assert subjects == ["Add two", "Merge pull request #1 from acme/one", "Add one"]
        assert alice.get("/repos/acme/gadgets/branches/one").status_code == 200  # kept

    gh(proxy, tmp_path, "pr", "close", "3", *repo)
    assert (
        json.loads(gh(proxy, tmp_path, "pr", "view", "3", *repo, "--json", "state"))["state"]
        == "CLOSED"
    )
    gh(proxy, tmp_path, "pr", "reopen", "3", *repo)
    assert (
        json.loads(gh(proxy, tmp_path, "pr", "view", "3", *repo, "--json", "state"))["state"]
        == "OPEN"
    )
    gh(proxy, tmp_path, "pr", "close", "3", *repo, "--delete-branch")
    reopen = run_gh(proxy, tmp_path, "pr", "reopen", "3", *repo)
    assert reopen.returncode == 1
    assert "The head branch has been deleted." in reopen.stderr

    push_branch(tmp_path, gsim, "gadgets", "draft")
    gh(
        proxy,
        tmp_path,
        "pr",
        "create",
        *repo,
        "--head",
        "draft",
        "--title",
        "WIP",
        "--body",
        "",
        "--draft",
    )
    gh(proxy, tmp_path, "pr", "ready", "4", *repo)
    with gsim.http(ALICE) as alice:
        assert alice.get("/repos/acme/gadgets/pulls/4").json()["draft"] is False
    assert proxy.graphql_problems() == []


def test_gh_edits_diffs_and_reports_status(
    gsim: RunningSim, proxy: GhProxy, tmp_path: Path
) -> None:
    push_branch(tmp_path, gsim, "widgets", "notes")
    repo = ("-R", "acme/widgets")
    create = ("pr", "create", *repo, "--head", "notes", "--title", "Add notes", "--body", "Why.")
    gh(proxy, tmp_path, *create, "--reviewer", "acme/platform", "--label", "bug")

    edit = ("--title", "Add notes, edited", "--add-label", "documentation", "--remove-label", "bug")
    gh(proxy, tmp_path, "pr", "edit", "1", *repo, *edit, "--add-assignee", "carol")
    with gsim.http(ALICE) as alice:
        pull = alice.get("/repos/acme/widgets/pulls/1").json()
        patch = alice.get(
            "/repos/acme/widgets/pulls/1", headers={"accept": "application/vnd.github.patch"}
        )
    assert pull["title"] == "Add notes, edited"
    assert [label["name"] for label in pull["labels"]] == ["documentation"]
    assert [a["login"] for a in pull["assignees"]] == ["carol"]
    assert patch.headers["content-type"].startswith("application/vnd.github.patch")
    assert "Subject: [PATCH] Add notes" in patch.text

    diff = gh(proxy, tmp_path, "pr", "diff", "1", *repo)
    assert diff.startswith("diff --git a/notes.md b/notes.md\nnew file mode 100644\n")
    assert diff.endswith("+notes\n")

    # alice wrote it; carol is asked through her team (an issue search for pull requests).
    mine = gh(proxy, tmp_path, "pr", "status", *repo)
    created, _, asked = mine.partition("Requesting a code review from you")
    assert "#1  Add notes, edited [notes]" in created and "Review required" in created
    assert "You have no pull requests to review" in asked
    theirs = gh(proxy, tmp_path, "pr", "status", *repo, env={"GH_TOKEN": CAROL})
    created, _, asked = theirs.partition("Requesting a code review from you")
    assert "You have no open pull requests" in created
    assert "#1  Add notes, edited [notes]" in asked
    assert proxy.graphql_problems() == []


def test_gh_auto_merge_and_admin_merge(gsim: RunningSim, proxy: GhProxy, tmp_path: Path) -> None:
    gsim.admin.update_repo("acme", "widgets", allow_auto_merge=True)
    push_branch(tmp_path, gsim, "widgets", "notes")
    repo = ("-R", "acme/widgets")
    create = ("pr", "create", *repo, "--head", "notes", "--title", "Add notes", "--body", "Why.")
    gh(proxy, tmp_path, *create)
    gh(
        proxy,
        tmp_path,
        "pr",
        "review",
        "1",
        *repo,
        "--request-changes",
        "--body",
        "No.",
        env={"GH_TOKEN": CAROL},
    )
    shown = json.loads(gh(proxy, tmp_path, "pr", "view", "1", *repo, "--json", "reviewDecision"))
    assert shown["reviewDecision"] == "CHANGES_REQUESTED"

    gh(proxy, tmp_path, "pr", "merge", "1", *repo, "--auto", "--squash")
    with gsim.http(ALICE) as alice:
        auto = alice.get("/repos/acme/widgets/pulls/1").json()["auto_merge"]
        assert auto is not None and auto["merge_method"] == "squash"
    gh(proxy, tmp_path, "pr", "merge", "1", *repo, "--disable-auto")
    with gsim.http(ALICE) as alice:
        assert alice.get("/repos/acme/widgets/pulls/1").json()["auto_merge"] is None

    # An admin merges past the change request and the missing required check.
    gh(proxy, tmp_path, "pr", "merge", "1", *repo, "--admin", "--merge")
    with gsim.http(ALICE) as alice:
        assert alice.get("/repos/acme/widgets/pulls/1").json()["merged"] is True
    assert proxy.graphql_problems() == []
