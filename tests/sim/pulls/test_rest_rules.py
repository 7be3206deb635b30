"""GitHub's refusals and rules on pull requests over REST, with exact bodies."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import ALICE, CAROL, branch

DOCS = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"


def _open(http: httpx.Client, head_ref: str, repo: str = "plain", **body: Any) -> httpx.Response:
    payload = {"title": f"Update {head_ref}", "head": head_ref, "base": "main"}
    payload.update(body)
    return http.post(f"/repos/acme/{repo}/pulls", json=payload)


def _mergeable(http: httpx.Client, repo: str, number: int) -> dict[str, Any]:
    """GET the pull request until GitHub has "computed" its mergeability."""
    first = http.get(f"/repos/acme/{repo}/pulls/{number}").json()
    if first["mergeable"] is not None:
        return dict(first)
    second = http.get(f"/repos/acme/{repo}/pulls/{number}").json()
    assert second["mergeable"] is not None
    return dict(second)


def test_create_refusals_have_githubs_exact_bodies(psim: RunningSim) -> None:
    branch(psim, "plain", "feature", {"a.txt": "a\n"})
    with psim.http(psim.installation_token()) as http:
        main = http.get("/repos/acme/plain/git/ref/heads/main").json()["object"]["sha"]
        http.post(
            "/repos/acme/plain/git/refs", json={"ref": "refs/heads/empty-change", "sha": main}
        )
        first = _open(http, "acme:feature")
        assert first.status_code == 201, first.text
        assert first.json()["mergeable"] is None  # computed in the background on GitHub
        again = _open(http, "feature")
        assert again.status_code == 422
        assert again.json() == {
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "A pull request already exists for acme:feature.",
                }
            ],
            "documentation_url": DOCS,
            "status": "422",
        }
        empty = _open(http, "empty-change")
        assert empty.status_code == 422
        assert empty.json()["errors"] == [
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "No commits between main and empty-change",
            }
        ]
        for field, body in (("base", {"base": "nope"}), ("head", {"head": "nope"})):
            missing = _open(http, "feature", **body)
            assert missing.status_code == 422
            assert missing.json()["errors"] == [
                {"resource": "PullRequest", "field": field, "code": "invalid"}
            ]


def test_merge_refusals_and_mergeable_state_transitions(psim: RunningSim) -> None:
    head = branch(psim, "widgets", "fix", {"fix.txt": "fix\n"})
    with psim.http(psim.installation_token()) as http:
        number = _open(http, "fix", repo="widgets").json()["number"]
        pull = _mergeable(http, "widgets", number)
        assert (pull["mergeable"], pull["mergeable_state"]) == (True, "blocked")
        merge = f"/repos/acme/widgets/pulls/{number}/merge"
        stale = http.put(merge, json={"sha": "0" * 40})
        assert stale.status_code == 409
        assert (
            stale.json()["message"] == "Head branch was modified. Review and try the merge again."
        )
        refused = http.put(merge, json={})
        assert refused.status_code == 405
        assert refused.json()["message"] == (
            "At least 1 approving review is required by reviewers with write access."
        )
        psim.admin.approve_pull("acme", "widgets", number, "dave")
        refused = http.put(merge, json={"sha": head})
        assert (refused.status_code, refused.json()["message"]) == (
            405,
            'Required status check "ci/test" is expected.',
        )
        psim.admin.set_status("acme", "widgets", head, "pending", "ci/test")
        assert _mergeable(http, "widgets", number)["mergeable_state"] == "blocked"
        psim.admin.set_status("acme", "widgets", head, "success", "ci/test")
        psim.admin.set_check_run("acme", "widgets", head, "lint", conclusion="failure")
        assert _mergeable(http, "widgets", number)["mergeable_state"] == "unstable"
        psim.admin.set_check_run("acme", "widgets", head, "lint", conclusion="success")
        assert _mergeable(http, "widgets", number)["mergeable_state"] == "clean"
        merged = http.put(merge, json={"sha": head, "merge_method": "squash"})
        assert merged.status_code == 200, merged.text
        assert merged.json()["merged"] is True
        assert merged.json()["message"] == "Pull Request successfully merged"
        assert http.get(f"{merge}").status_code == 204
        again = http.put(merge, json={})
        assert (again.status_code, again.json()["message"]) == (
            405,
            "Pull Request is not mergeable",
        )


def test_conflicts_make_a_pull_request_dirty(psim: RunningSim) -> None:
    branch(psim, "plain", "left", {"src/app.py": "print('left')\n"})
    with psim.http(psim.installation_token()) as http:
        number = _open(http, "left").json()["number"]
        assert _mergeable(http, "plain", number)["mergeable_state"] == "clean"
        psim.admin.push_commit("acme", "plain", {"src/app.py": "print('right')\n"})
        pull = _mergeable(http, "plain", number)
        assert (pull["mergeable"], pull["mergeable_state"]) == (False, "dirty")
        refused = http.put(f"/repos/acme/plain/pulls/{number}/merge", json={})
        assert refused.status_code == 405
        assert refused.json()["message"] == "Pull Request is not mergeable"


def test_strict_checks_make_an_outdated_branch_behind_until_updated(psim: RunningSim) -> None:
    psim.admin.patch_protection(
        "acme", "plain", "main", required_status_checks=["ci/test"], strict=True
    )
    head = branch(psim, "plain", "slow", {"slow.txt": "slow\n"})
    with psim.http(psim.installation_token()) as http:
        number = _open(http, "slow").json()["number"]
        psim.admin.set_status("acme", "plain", head, "success", "ci/test")
        assert _mergeable(http, "plain", number)["mergeable_state"] == "clean"
        psim.admin.push_commit("acme", "plain", {"other.txt": "moved on\n"})
        assert _mergeable(http, "plain", number)["mergeable_state"] == "behind"
        update = f"/repos/acme/plain/pulls/{number}/update-branch"
        stale = http.put(update, json={"expected_head_sha": "1" * 40})
        assert stale.status_code == 422
        accepted = http.put(update, json={"expected_head_sha": head})
        assert accepted.status_code == 202
        assert accepted.json() == {
            "message": "Updating pull request branch.",
            "url": f"{psim.url}/acme/plain/pull/{number}",
        }
        pull = _mergeable(http, "plain", number)
        assert pull["head"]["sha"] != head
        assert pull["mergeable_state"] == "blocked"  # the new head has no checks yet
        psim.admin.set_status("acme", "plain", pull["head"]["sha"], "success", "ci/test")
        assert _mergeable(http, "plain", number)["mergeable_state"] == "clean"


def test_reviewers_assignees_and_self_approval(psim: RunningSim) -> None:
    branch(psim, "plain", "people", {"p.txt": "p\n"})
    with psim.http(ALICE) as alice:
        number = _open(alice, "people").json()["number"]
        base = f"/repos/acme/plain/pulls/{number}"
        outsider = alice.post(f"{base}/requested_reviewers", json={"reviewers": ["carol"]})
        assert outsider.status_code == 422
        assert outsider.json()["message"] == (
            "Reviews may only be requested from collaborators. One or more of the users or "
            "teams you specified is not a collaborator of the acme/plain repository."
        )
        requested = alice.post(
            f"{base}/requested_reviewers", json={"reviewers": ["dave"], "team_reviewers": ["core"]}
        )
        assert requested.status_code == 201, requested.text
        assert [u["login"] for u in requested.json()["requested_reviewers"]] == ["dave"]
        assert [t["slug"] for t in requested.json()["requested_teams"]] == ["core"]
        assigned = alice.post(
            f"/repos/acme/plain/issues/{number}/assignees", json={"assignees": ["dave", "bob"]}
        )
        assert assigned.status_code == 201
        assert [a["login"] for a in assigned.json()["assignees"]] == ["dave"]  # bob: read only
        own = alice.post(f"{base}/reviews", json={"event": "APPROVE"})
        assert own.status_code == 422
        assert own.json()["message"] == "Can not approve your own pull request"
    with psim.http(CAROL) as carol:
        assert carol.get(base).status_code == 404  # a private repository she cannot see


def test_labels_statuses_checks_and_protection_endpoints(psim: RunningSim) -> None:
    head = branch(psim, "widgets", "lbl", {"l.txt": "l\n"})
    with psim.http(psim.installation_token()) as http:
        number = _open(http, "lbl", repo="widgets").json()["number"]
        issue = f"/repos/acme/widgets/issues/{number}"
        added = http.post(f"{issue}/labels", json={"labels": ["bug", "infra"]})
        assert [label["name"] for label in added.json()] == ["bug", "infra"]
        made = http.post("/repos/acme/widgets/labels", json={"name": "Bug", "color": "ff0000"})
        assert made.status_code == 422
        assert made.json()["errors"] == [
            {"resource": "Label", "code": "already_exists", "field": "name"}
        ]
        bad = http.post("/repos/acme/widgets/labels", json={"name": "x", "color": "red"})
        assert bad.json()["errors"][0]["field"] == "color"
        assert http.delete(f"{issue}/labels/bug").json()[0]["name"] == "infra"
        replaced = http.put(f"{issue}/labels", json={"labels": ["ready"]})
        assert [label["name"] for label in replaced.json()] == ["ready"]
        assert http.get(issue).json()["pull_request"]["url"].endswith(f"/pulls/{number}")

        for state in ("pending", "failure", "success"):
            posted = http.post(
                f"/repos/acme/widgets/statuses/{head}", json={"state": state, "context": "ci/test"}
            )
            assert posted.status_code == 201
        http.post(
            f"/repos/acme/widgets/statuses/{head}", json={"state": "pending", "context": "e2e"}
        )
        combined = http.get("/repos/acme/widgets/commits/lbl/status").json()
        assert (combined["state"], combined["total_count"]) == ("pending", 2)
        assert len(http.get(f"/repos/acme/widgets/commits/{head}/statuses").json()) == 4

        # An in-progress run is created through the scenario API: its ``conclusion: null``
        # trips the conformance checker (OpenAPI 3.0 nullable enums), though GitHub sends it.
        run = psim.admin.set_check_run("acme", "widgets", head, "build", app="shoal")
        assert run["status"] == "queued"
        done = http.patch(
            f"/repos/acme/widgets/check-runs/{run['id']}", json={"conclusion": "success"}
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed"
        made = http.post(
            "/repos/acme/widgets/check-runs",
            json={"name": "lint", "head_sha": head, "conclusion": "neutral"},
        )
        assert made.status_code == 201, made.text
        runs = http.get(f"/repos/acme/widgets/commits/{head}/check-runs").json()
        assert [r["name"] for r in runs["check_runs"]] == ["lint", "build"]
        assert runs["check_runs"][0]["pull_requests"][0]["number"] == number
        suites = http.get(f"/repos/acme/widgets/commits/{head}/check-suites").json()
        assert suites["check_suites"][0]["conclusion"] == "success"
        suite = http.get(f"/repos/acme/widgets/check-suites/{suites['check_suites'][0]['id']}")
        assert suite.status_code == 200

        protection = http.get("/repos/acme/widgets/branches/main/protection").json()
        assert protection["required_status_checks"]["contexts"] == ["ci/test"]
        unprotected = http.get("/repos/acme/plain/branches/main/protection")
        assert unprotected.status_code == 404
        assert unprotected.json()["message"] == "Branch not protected"
        # rules/branches lists rulesets' rules only: classic protection is not among them.
        assert http.get("/repos/acme/widgets/rules/branches/main").json() == []
        assert http.get("/repos/acme/plain/rules/branches/main").json() == []
    with psim.http(ALICE) as alice:
        put = alice.put(
            "/repos/acme/plain/branches/main/protection",
            json={
                "required_status_checks": {"strict": True, "contexts": ["ci"]},
                "enforce_admins": True,
                "required_pull_request_reviews": None,
                "restrictions": None,
            },
        )
        assert put.status_code == 200, put.text
        assert alice.delete("/repos/acme/plain/branches/main/protection").status_code == 204


def test_rebase_merge_replays_commits_and_deletes_the_branch(psim: RunningSim) -> None:
    repo = psim.sim.world.get_repo("acme", "plain")
    repo.delete_branch_on_merge = True
    first = branch(psim, "plain", "stack", {"one.txt": "1\n"})
    branch(psim, "plain", "stack", {"two.txt": "2\n"})
    psim.admin.push_commit("acme", "plain", {"base.txt": "moved\n"})  # base moved on
    with psim.http(ALICE) as http:
        number = _open(http, "stack").json()["number"]
        repo.allow_rebase_merge = False
        refused = http.put(
            f"/repos/acme/plain/pulls/{number}/merge", json={"merge_method": "rebase"}
        )
        assert (refused.status_code, refused.json()["message"]) == (
            405,
            "Rebase merges are not allowed on this repository.",
        )
        repo.allow_rebase_merge = True
        merged = http.put(
            f"/repos/acme/plain/pulls/{number}/merge", json={"merge_method": "rebase"}
        )
        assert merged.status_code == 200, merged.text
        commits = http.get("/repos/acme/plain/commits", params={"per_page": 3}).json()
        assert [c["commit"]["message"] for c in commits] == [
            "Change stack",
            "Change stack",
            "Update files",
        ]
        assert commits[1]["sha"] != first  # replayed onto the moved base
        assert http.get("/repos/acme/plain/git/ref/heads/stack").status_code == 404
