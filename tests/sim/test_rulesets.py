"""Rulesets over plain HTTP: repository and organization rulesets made, changed and deleted
by admins only; which branches and repositories they take in (`rules/branches`);
enforcement modes; bypass actors; and each modelled rule's effect on the refs API, the
contents API and merging, all through the one push judge."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoal_sim.state.models import Ruleset
from tests.sim.conftest import RunningSim, basic_header, run_git

ALICE = "ghp_alice0000000000000000000000000000000"  # acme owner
BOB = "ghp_bob000000000000000000000000000000000"  # acme member (read)


def ruleset(name: str, *rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": list(rules),
        **extra,
    }


def put_file(client: httpx.Client, repo: str, path: str, text: str, **extra: Any) -> httpx.Response:
    content = base64.b64encode(text.encode()).decode()
    return client.put(
        f"/repos/acme/{repo}/contents/{path}",
        json={"message": f"Write {path}", "content": content, **extra},
    )


def tip(sim: RunningSim, repo: str, branch: str = "main") -> str:
    found = sim.sim.world.get_repo("acme", repo)
    sha = sim.sim.git.open(found.id).ref_sha(f"refs/heads/{branch}")
    assert sha is not None
    return sha


def test_repository_rulesets_are_managed_by_admins_only(sim: RunningSim) -> None:
    with sim.http(ALICE) as alice, sim.http(BOB) as bob:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset(
                "main",
                {"type": "deletion"},
                bypass_actors=[{"actor_id": 5, "actor_type": "RepositoryRole"}],
            ),
        )
        assert made.status_code == 201, made.text
        ident = made.json()["id"]
        assert made.json()["bypass_actors"] == [
            {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}
        ]
        assert made.json()["current_user_can_bypass"] == "always"

        # Readers list and read rulesets, without their bypass actors; they change none.
        seen = bob.get(f"/repos/acme/gadgets/rulesets/{ident}")
        assert seen.status_code == 200
        assert "bypass_actors" not in seen.json()
        assert seen.json()["current_user_can_bypass"] == "never"
        assert [r["id"] for r in bob.get("/repos/acme/gadgets/rulesets").json()] == [ident]
        for refused in (
            bob.post("/repos/acme/gadgets/rulesets", json=ruleset("mine")),
            bob.put(f"/repos/acme/gadgets/rulesets/{ident}", json={"enforcement": "disabled"}),
            bob.delete(f"/repos/acme/gadgets/rulesets/{ident}"),
        ):
            assert refused.status_code == 403
            assert refused.json()["message"] == "Resource not accessible by personal access token"

        changed = alice.put(
            f"/repos/acme/gadgets/rulesets/{ident}",
            json={"name": "main only", "enforcement": "evaluate", "rules": [{"type": "creation"}]},
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["name"], body["enforcement"], body["rules"]) == (
            "main only",
            "evaluate",
            [{"type": "creation"}],
        )
        # What the update left out is kept.
        assert body["conditions"]["ref_name"]["include"] == ["~DEFAULT_BRANCH"]
        assert len(body["bypass_actors"]) == 1

        assert alice.delete(f"/repos/acme/gadgets/rulesets/{ident}").status_code == 204
        assert alice.get(f"/repos/acme/gadgets/rulesets/{ident}").status_code == 404
        assert alice.delete(f"/repos/acme/gadgets/rulesets/{ident}").status_code == 404
    with sim.http(sim.installation_token(slug="lite")) as lite:
        refused = lite.post("/repos/acme/gadgets/rulesets", json=ruleset("app"))
    assert refused.status_code == 403
    assert refused.headers["x-accepted-github-permissions"] == "administration=write"
    assert sim.sim.world.get_repo("acme", "gadgets").rulesets == []


def test_ruleset_bodies_github_refuses(sim: RunningSim) -> None:
    with sim.http(ALICE) as alice:
        assert alice.post("/repos/acme/gadgets/rulesets", json=ruleset("a")).status_code == 201
        for body in (
            ruleset("a"),  # taken
            ruleset("b", {"type": "merge_queue"}),
            ruleset("c", bypass_actors=[{"actor_id": None, "actor_type": "DeployKey"}]),
            ruleset(
                "d",
                bypass_actors=[
                    {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "sometimes"}
                ],
            ),
            ruleset(
                "e", {"type": "pull_request", "parameters": {"required_approving_review_count": 11}}
            ),
            {**ruleset("f"), "enforcement": "on"},
            {**ruleset("g"), "target": "tag"},
            {**ruleset("i"), "conditions": {"ref_name": {"include": ["x"] * 101}}},
            {**ruleset("j"), "conditions": {"ref_name": {"include": ["x" * 256]}}},
            ruleset("k" * 256),
            ruleset(
                "l", {"type": "pull_request", "parameters": {"require_code_owner_review": True}}
            ),
            ruleset(
                "m",
                {
                    "type": "required_status_checks",
                    "parameters": {
                        "required_status_checks": [{"context": "ci", "integration_id": 1}]
                    },
                },
            ),
            {**ruleset("h"), "conditions": {"repository_name": {"include": ["~ALL"]}}},
        ):
            refused = alice.post("/repos/acme/gadgets/rulesets", json=body)
            assert refused.status_code == 422, body
            assert refused.json()["message"] == "Validation Failed"
    repo = sim.sim.world.get_repo("acme", "gadgets")
    assert [r.name for r in repo.rulesets] == ["a"]
    repo.rulesets += [
        Ruleset(id=1000 + n, name=f"n{n}", org="acme", repo_id=repo.id) for n in range(99)
    ]
    with sim.http(ALICE) as alice:
        full = alice.post("/repos/acme/gadgets/rulesets", json=ruleset("one more"))
    assert full.status_code == 422
    assert full.json()["errors"][0]["message"] == "At most 100 rulesets"


def test_organization_rulesets_target_repositories_by_name(sim: RunningSim) -> None:
    body = ruleset(
        "services",
        {"type": "required_signatures"},
        conditions={
            "ref_name": {"include": ["~ALL"], "exclude": ["refs/heads/scratch/*"]},
            "repository_name": {"include": ["svc-*", "WIDGETS"], "exclude": ["svc-01?"]},
        },
    )
    with sim.http(ALICE) as alice, sim.http(BOB) as bob:
        assert bob.post("/orgs/acme/rulesets", json=body).status_code == 404
        assert bob.get("/orgs/acme/rulesets").status_code == 404
        made = alice.post("/orgs/acme/rulesets", json=body)
        assert made.status_code == 201, made.text
        ident = made.json()["id"]
        assert (made.json()["source_type"], made.json()["source"]) == ("Organization", "acme")
        assert made.json()["conditions"]["repository_name"] == {
            "include": ["svc-*", "WIDGETS"],
            "exclude": ["svc-01?"],
            "protected": False,
        }
        assert [r["id"] for r in alice.get("/orgs/acme/rulesets").json()] == [ident]
        assert alice.get(f"/orgs/acme/rulesets/{ident}").json()["name"] == "services"

        def sources(repo: str, branch: str = "main") -> list[tuple[str, str, str, int]]:
            rules = bob.get(f"/repos/acme/{repo}/rules/branches/{branch}").json()
            return [
                (r["type"], r["ruleset_source_type"], r["ruleset_source"], r["ruleset_id"])
                for r in rules
                if r["type"] == "required_signatures"
            ]

        expected = [("required_signatures", "Organization", "acme", ident)]
        assert sources("widgets") == expected  # names match regardless of case
        assert sources("svc-002") == expected
        assert sources("svc-002", "scratch/x") == []
        assert sources("svc-012") == []  # excluded
        assert sources("gadgets") == []
        listed = bob.get("/repos/acme/svc-002/rulesets").json()
        assert [(r["id"], r["source_type"]) for r in listed] == [(ident, "Organization")]
        alone = bob.get("/repos/acme/svc-002/rulesets", params={"includes_parents": "false"})
        assert alone.json() == []

        changed = alice.put(
            f"/orgs/acme/rulesets/{ident}",
            json={
                "conditions": {
                    "ref_name": {"include": ["~ALL"]},
                    "repository_name": {"include": ["gadgets"]},
                }
            },
        )
        assert changed.status_code == 200, changed.text
        assert sources("gadgets") == expected
        assert sources("widgets") == []
        assert alice.delete(f"/orgs/acme/rulesets/{ident}").status_code == 204
        assert sources("gadgets") == []
    with sim.http(sim.installation_token()) as app:
        refused = app.get("/orgs/acme/rulesets")
    assert refused.status_code == 403
    assert refused.headers["x-accepted-github-permissions"] == "organization_administration=read"


def test_enforcement_active_blocks_evaluate_and_disabled_do_not(sim: RunningSim) -> None:
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets", json=ruleset("frozen", {"type": "update"})
        )
        ident = made.json()["id"]
        listed = alice.get("/repos/acme/gadgets/rules/branches/main").json()
        assert [(r["type"], r["ruleset_id"]) for r in listed] == [("update", ident)]
        refused = put_file(alice, "gadgets", "a.txt", "a\n")
        assert refused.status_code == 422
        assert refused.json()["message"] == (
            "Repository rule violations found\n\nCannot update this protected ref.\n\n"
        )
        alice.put(f"/repos/acme/gadgets/rulesets/{ident}", json={"enforcement": "evaluate"})
        assert put_file(alice, "gadgets", "b.txt", "b\n").status_code == 201
        # rules/branches lists active rules only.
        assert alice.get("/repos/acme/gadgets/rules/branches/main").json() == []
        alice.put(f"/repos/acme/gadgets/rulesets/{ident}", json={"enforcement": "disabled"})
        assert alice.get("/repos/acme/gadgets/rules/branches/main").json() == []
        assert put_file(alice, "gadgets", "c.txt", "c\n").status_code == 201


def test_ref_rules_on_the_refs_api(sim: RunningSim) -> None:
    base = tip(sim, "gadgets")
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json={
                "name": "releases",
                "enforcement": "active",
                "conditions": {"ref_name": {"include": ["refs/heads/release/*"]}},
                "rules": [{"type": "creation"}, {"type": "deletion"}, {"type": "non_fast_forward"}],
            },
        )
        assert made.status_code == 201
        refused = alice.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/release/1", "sha": base}
        )
        assert refused.status_code == 422
        assert "Cannot create ref due to creations being restricted." in refused.json()["message"]
        sim.admin.push_commit("acme", "gadgets", {"r.txt": "1\n"}, branch="release/1")
        moved = tip(sim, "gadgets", "release/1")
        forced = alice.patch(
            "/repos/acme/gadgets/git/refs/heads/release/1", json={"sha": base, "force": True}
        )
        assert forced.status_code == 422
        assert "Cannot force-push to this branch" in forced.json()["message"]
        deleted = alice.delete("/repos/acme/gadgets/git/refs/heads/release/1")
        assert deleted.status_code == 422
        assert "Cannot delete this branch" in deleted.json()["message"]
        # Branches outside the pattern are not covered.
        other = alice.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/feature/1", "sha": base}
        )
        assert other.status_code == 201
    assert tip(sim, "gadgets", "release/1") == moved


def test_bypass_actors_by_role_team_app_and_org_admin(sim: RunningSim) -> None:
    app = sim.app()
    team = sim.admin.create_team("acme", "release", members=["bob"])
    sim.admin.update_repo("acme", "gadgets", collaborators={"bob": "write"})
    cases: list[tuple[dict[str, Any], str, bool]] = [
        ({"actor_id": 5, "actor_type": "RepositoryRole"}, ALICE, True),
        ({"actor_id": 5, "actor_type": "RepositoryRole"}, BOB, False),
        ({"actor_id": 4, "actor_type": "RepositoryRole"}, BOB, True),
        ({"actor_id": team["id"], "actor_type": "Team"}, BOB, True),
        ({"actor_id": team["id"], "actor_type": "Team"}, ALICE, False),
        ({"actor_id": None, "actor_type": "OrganizationAdmin"}, ALICE, True),
        ({"actor_id": app["id"], "actor_type": "Integration"}, "shoal", True),
        ({"actor_id": app["id"], "actor_type": "Integration"}, "lite", False),
        (
            {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "pull_request"},
            ALICE,
            False,
        ),
    ]
    with sim.http(ALICE) as alice:
        for n, (actor, who, passes) in enumerate(cases):
            made = alice.post(
                "/repos/acme/gadgets/rulesets",
                json=ruleset(f"r{n}", {"type": "update"}, bypass_actors=[actor]),
            )
            assert made.status_code == 201, made.text
            token = who if who.startswith("ghp_") else sim.installation_token(slug=who)
            with sim.http(token) as client:
                wrote = put_file(client, "gadgets", f"f{n}.txt", f"{n}\n")
            assert (wrote.status_code == 201) is passes, (actor, who, wrote.text)
            alice.delete(f"/repos/acme/gadgets/rulesets/{made.json()['id']}")


def test_pull_request_and_status_rules_feed_mergeability(sim: RunningSim) -> None:
    sim.admin.push_commit("acme", "gadgets", {"x.txt": "x\n"}, branch="feature")
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset(
                "review",
                {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
                {
                    "type": "required_status_checks",
                    "parameters": {"required_status_checks": [{"context": "ci/test"}]},
                },
            ),
        )
        assert made.status_code == 201, made.text
        direct = put_file(alice, "gadgets", "d.txt", "d\n")
        assert direct.status_code == 422
        assert direct.json()["message"] == (
            "Repository rule violations found\n\nChanges must be made through a pull request."
            '\n\nRequired status check "ci/test" is expected.\n\n'
        )
        with sim.http(sim.installation_token()) as app:
            number = app.post(
                "/repos/acme/gadgets/pulls", json={"title": "X", "head": "feature", "base": "main"}
            ).json()["number"]
            pull = app.get(f"/repos/acme/gadgets/pulls/{number}").json()
            assert pull["mergeable_state"] == "blocked"
            refused = app.put(f"/repos/acme/gadgets/pulls/{number}/merge", json={})
        assert refused.status_code == 405
        assert refused.json()["message"] == (
            "At least 1 approving review is required by reviewers with write access."
        )
        sha = pull["head"]["sha"]
        sim.admin.update_repo("acme", "gadgets", collaborators={"bob": "write"})
        with sim.http(BOB) as bob:
            approved = bob.post(
                f"/repos/acme/gadgets/pulls/{number}/reviews", json={"event": "APPROVE"}
            )
            assert approved.status_code == 200, approved.text
        with sim.http(sim.installation_token(slug="shoal")) as app:
            still = app.put(f"/repos/acme/gadgets/pulls/{number}/merge", json={})
        assert still.json()["message"] == 'Required status check "ci/test" is expected.'
        alice.post(
            f"/repos/acme/gadgets/statuses/{sha}", json={"state": "success", "context": "ci/test"}
        )
        merged = alice.put(f"/repos/acme/gadgets/pulls/{number}/merge", json={})
        assert merged.status_code == 200, merged.text
    assert sim.sim.world.get_repo("acme", "gadgets").pulls[number].merged


def test_git_push_refusals_name_the_rules_and_commits(sim: RunningSim, tmp_path: Path) -> None:
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset(
                "history", {"type": "required_linear_history"}, {"type": "required_signatures"}
            ),
        )
        assert made.status_code == 201, made.text
    work = tmp_path / "gadgets"
    auth = basic_header(ALICE)
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/gadgets.git", str(work), cwd=tmp_path)
    run_git("checkout", "-q", "-b", "side", cwd=work)
    (work / "side.txt").write_text("side\n")
    run_git("add", "side.txt", cwd=work)
    run_git("commit", "-q", "-m", "Side", cwd=work)
    run_git("checkout", "-q", "main", cwd=work)
    (work / "main.txt").write_text("main\n")
    run_git("add", "main.txt", cwd=work)
    run_git("commit", "-q", "-m", "Main", cwd=work)
    run_git("merge", "-q", "--no-ff", "-m", "Merge side", "side", cwd=work)
    merge = run_git("rev-parse", "HEAD", cwd=work).stdout.strip()
    before = tip(sim, "gadgets")

    pushed = run_git("-c", auth, "push", "origin", "main", cwd=work, check=False)

    assert pushed.returncode != 0
    remote = [
        line.removeprefix("remote:").strip()
        for line in pushed.stderr.splitlines()
        if line.startswith("remote:")
    ]
    assert remote[:3] == [
        "error: GH013: Repository rule violations found for refs/heads/main.",
        f"Review all repository rules at {sim.url}/acme/gadgets/rules?ref=refs%2Fheads%2Fmain",
        "",
    ]
    assert "- This branch must not contain merge commits." in remote
    assert "- Commits must have verified signatures." in remote
    assert "Found 1 violation:" in remote  # the merge commit
    assert "Found 3 violations:" in remote  # every new commit is unsigned
    assert merge in remote
    assert "(push declined due to repository rule violations)" in pushed.stderr
    assert tip(sim, "gadgets") == before

    # Commits GitHub.com makes for an API call are signed, so the same rules let them in.
    with sim.http(ALICE) as alice:
        assert put_file(alice, "gadgets", "api.txt", "api\n").status_code == 201


COMMIT = """
mutation($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) { commit { oid } }
}
"""


def test_create_commit_on_branch_meets_the_same_rules(sim: RunningSim) -> None:
    def commit(client: httpx.Client, path: str) -> dict[str, Any]:
        variables = {
            "input": {
                "branch": {"repositoryNameWithOwner": "acme/gadgets", "branchName": "main"},
                "expectedHeadOid": tip(sim, "gadgets"),
                "message": {"headline": f"Add {path}"},
                "fileChanges": {"additions": [{"path": path, "contents": "eA=="}]},
            }
        }
        answer = client.post(f"{sim.url}/graphql", json={"query": COMMIT, "variables": variables})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset("signed", {"type": "required_signatures"}, {"type": "update"}),
        )
        refused = commit(alice, "a.txt")
        assert refused["data"] == {"createCommitOnBranch": None}
        assert refused["errors"][0]["message"] == (
            "Repository rule violations found\n\nCannot update this protected ref.\n\n"
        )
        # Signed by GitHub.com, so only the update rule refused it.
        alice.put(
            f"/repos/acme/gadgets/rulesets/{made.json()['id']}",
            json={"rules": [{"type": "required_signatures"}]},
        )
        accepted = commit(alice, "b.txt")
    assert accepted["data"]["createCommitOnBranch"]["commit"]["oid"] == tip(sim, "gadgets")


def test_a_pull_request_bypass_merges_without_the_required_review(sim: RunningSim) -> None:
    sim.admin.push_commit("acme", "gadgets", {"y.txt": "y\n"}, branch="feature")
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset(
                "review",
                {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
                bypass_actors=[
                    {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "pull_request"}
                ],
            ),
        )
        assert made.status_code == 201, made.text
        number = alice.post(
            "/repos/acme/gadgets/pulls", json={"title": "Y", "head": "feature", "base": "main"}
        ).json()["number"]
        with sim.http(sim.installation_token()) as app:
            refused = app.put(f"/repos/acme/gadgets/pulls/{number}/merge", json={})
        assert refused.status_code == 405
        merged = alice.put(f"/repos/acme/gadgets/pulls/{number}/merge", json={})
        assert merged.status_code == 200, merged.text
    assert sim.sim.world.get_repo("acme", "gadgets").pulls[number].merged_by == "alice"


def test_rulesets_narrow_the_merge_methods(sim: RunningSim) -> None:
    sim.admin.push_commit("acme", "gadgets", {"z.txt": "z\n"}, branch="feature")
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/gadgets/rulesets",
            json=ruleset(
                "methods",
                {"type": "required_linear_history"},
                {
                    "type": "pull_request",
                    "parameters": {"allowed_merge_methods": ["merge", "squash"]},
                },
            ),
        )
        assert made.status_code == 201, made.text
        number = alice.post(
            "/repos/acme/gadgets/pulls", json={"title": "Z", "head": "feature", "base": "main"}
        ).json()["number"]
        url = f"/repos/acme/gadgets/pulls/{number}/merge"
        merge = alice.put(url, json={"merge_method": "merge"})
        rebase = alice.put(url, json={"merge_method": "rebase"})
        assert (merge.status_code, merge.json()["message"]) == (
            405,
            "Merge commits are not allowed on this repository.",
        )
        assert (rebase.status_code, rebase.json()["message"]) == (
            405,
            "Rebase merges are not allowed on this repository.",
        )
        squash = alice.put(url, json={"merge_method": "squash"})
        assert squash.status_code == 200, squash.text


FORKS: dict[str, Any] = {
    "users": [{"login": "alice", "tokens": [{"token": ALICE}]}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            "repos": [
                {"name": "upstream", "files": {"README.md": "# same\n"}},
                {
                    "name": "fork",
                    "fork": True,
                    "parent": "acme/upstream",
                    "files": {"README.md": "# same\n"},
                },
            ],
        }
    ],
}


def test_update_allows_fetch_and_merge_lets_a_fork_take_its_upstream(
    make_sim: Callable[..., RunningSim], tmp_path: Path
) -> None:
    sim = make_sim(FORKS)
    assert tip(sim, "fork") == tip(sim, "upstream")  # seeded alike: one history
    synced = sim.admin.push_commit("acme", "upstream", {"NEW.md": "new\n"})
    with sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/fork/rulesets", json=ruleset("frozen", {"type": "update"})
        ).json()
    work = tmp_path / "fork"
    auth = basic_header(ALICE)
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/fork.git", str(work), cwd=tmp_path)
    run_git("-c", auth, "fetch", "-q", f"{sim.url}/acme/upstream.git", "main", cwd=work)

    def sync() -> subprocess.CompletedProcess[str]:
        return run_git("-c", auth, "push", "origin", "FETCH_HEAD:main", cwd=work, check=False)

    refused = sync()
    assert "Cannot update this protected ref." in refused.stderr
    with sim.http(ALICE) as alice:
        alice.put(
            f"/repos/acme/fork/rulesets/{made['id']}",
            json={
                "rules": [{"type": "update", "parameters": {"update_allows_fetch_and_merge": True}}]
            },
        )
    assert sync().returncode == 0
    assert tip(sim, "fork") == synced
    # Any other update is still refused.
    (work / "mine.txt").write_text("mine\n")
    run_git("checkout", "-q", "FETCH_HEAD", cwd=work)
    run_git("add", "mine.txt", cwd=work)
    run_git("commit", "-q", "-m", "Mine", cwd=work)
    other = run_git("-c", auth, "push", "origin", "HEAD:main", cwd=work, check=False)
    assert "Cannot update this protected ref." in other.stderr
    assert tip(sim, "fork") == synced


@pytest.mark.parametrize("rule", ["classic protection", "ruleset"])
def test_a_push_whose_commit_passes_the_required_checks_is_taken(
    sim: RunningSim, tmp_path: Path, rule: str
) -> None:
    required = ["ci/test", "lint"]
    if rule == "classic protection":
        sim.admin.protect_branch(
            "acme", "gadgets", "main", required_status_checks=required, enforce_admins=True
        )
        declined = "(protected branch hook declined)"
    else:
        checks = {"required_status_checks": [{"context": c} for c in required]}
        with sim.http(ALICE) as alice:
            made = alice.post(
                "/repos/acme/gadgets/rulesets",
                json=ruleset("checks", {"type": "required_status_checks", "parameters": checks}),
            )
            assert made.status_code == 201, made.text
        declined = "(push declined due to repository rule violations)"
    work = tmp_path / "gadgets"
    auth = basic_header(ALICE)
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/gadgets.git", str(work), cwd=tmp_path)
    (work / "checked.txt").write_text("checked\n")
    run_git("add", "checked.txt", cwd=work)
    run_git("commit", "-q", "-m", "Checked", cwd=work)
    sha = run_git("rev-parse", "HEAD", cwd=work).stdout.strip()
    run_git("-c", auth, "push", "-q", "origin", "HEAD:refs/heads/candidate", cwd=work)
    before = tip(sim, "gadgets")

    def push() -> subprocess.CompletedProcess[str]:
        return run_git("-c", auth, "push", "origin", "HEAD:main", cwd=work, check=False)

    refused = push()
    assert refused.returncode != 0 and declined in refused.stderr, refused.stderr
    assert "2 of 2 required status checks are expected." in refused.stderr
    with sim.http(ALICE) as alice:
        posted = alice.post(
            f"/repos/acme/gadgets/statuses/{sha}", json={"state": "success", "context": "ci/test"}
        )
        assert posted.status_code == 201, posted.text
    # A check run (an App's, through the scenario API) counts as its context too.
    sim.admin.set_check_run("acme", "gadgets", sha, "lint", app="shoal", conclusion="failure")
    failing = push()
    assert failing.returncode != 0, failing.stderr
    assert 'Required status check "lint" is failing.' in failing.stderr
    assert tip(sim, "gadgets") == before
    sim.admin.set_check_run("acme", "gadgets", sha, "lint", app="shoal", conclusion="success")
    # The commit has every required check passing: GitHub takes the push.
    taken = push()
    assert taken.returncode == 0, taken.stderr
    assert tip(sim, "gadgets") == sha
