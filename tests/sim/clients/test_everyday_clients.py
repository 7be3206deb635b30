"""What everyday GitHub clients do first, against the simulator over real HTTP: PyGithub
(unmodified) lists an org's repositories and the user's, reads refs and contents, follows a
renamed repository; `git` clones without `.git` and under a former name; contents come raw
when asked; writes carry Location and ETag; unrouted paths answer like GitHub's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from github import Auth, Github, GithubException, UnknownObjectException
from tests.sim.conftest import RunningSim, run_git

ALICE = "ghp_alice0000000000000000000000000000000"


@pytest.fixture
def gh(sim: RunningSim) -> Github:
    client = Github(auth=Auth.Token(ALICE), base_url=sim.rest_url, per_page=30)
    yield client  # type: ignore[misc]
    client.close()


def test_pygithub_org_user_repos_refs_and_contents(sim: RunningSim, gh: Github) -> None:
    org = gh.get_organization("acme")
    assert (org.login, org.type) == ("acme", "Organization")
    names = [r.name for r in org.get_repos()]  # 44 repositories: two pages of 30
    assert len(names) == len(set(names)) == 44

    mine = {r.full_name for r in gh.get_user().get_repos()}
    assert {"acme/widgets", "acme/svc-001", "globex/alpha"} - mine == {"globex/alpha"}
    assert "acme/widgets" in mine

    repo = gh.get_repo("acme/widgets")
    refs = {ref.ref: ref.object.sha for ref in repo.get_git_refs()}
    assert refs["refs/heads/main"] == repo.get_branch("main").commit.sha

    readme = repo.get_contents("README.md")
    assert not isinstance(readme, list)
    assert readme.decoded_content == b"# widgets\nbuilt from master\n"
    downloaded = httpx.get(readme.download_url, timeout=30)  # private: a signed URL
    assert (downloaded.status_code, downloaded.content) == (200, readme.decoded_content)
    assert httpx.get(readme.download_url.split("?")[0], timeout=30).status_code == 404


def test_contents_as_raw_media(sim: RunningSim) -> None:
    with sim.http(ALICE) as client:
        for accept in ("application/vnd.github.raw", "application/vnd.github.v3.raw"):
            raw = client.get("/repos/acme/widgets/contents/Dockerfile", headers={"accept": accept})
            assert raw.status_code == 200
            assert raw.content == b"FROM python:3.8-slim\n"
            assert raw.headers["content-type"] == f"{accept}; charset=utf-8"
        as_json = client.get(
            "/repos/acme/widgets/contents/Dockerfile",
            headers={"accept": "application/vnd.github.raw+json"},
        )
        assert as_json.json()["type"] == "file"


def test_a_renamed_repository_redirects(sim: RunningSim, gh: Github, tmp_path: Path) -> None:
    repo_id = gh.get_repo("acme/widgets").id
    sim.admin.rename_repo("acme", "widgets", "gizmos")

    with sim.http(ALICE) as client:
        moved = client.get("/repos/acme/widgets/branches?per_page=1")
        assert moved.status_code == 301
        location = f"{sim.rest_url}/repositories/{repo_id}/branches?per_page=1"
        assert moved.headers["location"] == location
        assert moved.json()["url"] == location
        assert client.get(location).json()[0]["name"] == "main"
        by_id = client.get(f"/repositories/{repo_id}").json()
        assert by_id["full_name"] == "acme/gizmos"
        write = client.post("/repos/acme/widgets/labels", json={"name": "x", "color": "ededed"})
        assert write.status_code == 307  # clients repeat the method and body
        assert client.get(f"/repositories/{repo_id + 10_000}").status_code == 404
    assert gh.get_repo("acme/widgets").full_name == "acme/gizmos"  # PyGithub follows it

    auth = f"http.extraHeader=Authorization: token {ALICE}"
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/widgets", "old", cwd=tmp_path)
    assert (tmp_path / "old" / "Dockerfile").read_text() == "FROM python:3.8-slim\n"


def test_git_clones_and_pushes_without_dot_git(sim: RunningSim, tmp_path: Path) -> None:
    auth = f"http.extraHeader=Authorization: token {ALICE}"
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/gadgets", "g", cwd=tmp_path)
    work = tmp_path / "g"
    (work / "new.txt").write_text("hi\n")
    run_git("add", "new.txt", cwd=work)
    run_git("commit", "-qm", "add", cwd=work)
    run_git("-c", auth, "push", "-q", "origin", "HEAD:refs/heads/topic", cwd=work)
    with sim.http(ALICE) as client:
        assert client.get("/repos/acme/gadgets/branches/topic").status_code == 200


def test_headers_on_writes_scopes_and_unrouted_paths(sim: RunningSim) -> None:
    with sim.http(ALICE) as client:
        created = client.post("/repos/acme/widgets/labels", json={"name": "deps"})
        assert created.status_code == 201
        assert created.headers["location"] == created.json()["url"]
        assert created.headers["etag"].startswith('W/"')
        assert "x-oauth-scopes" in created.headers  # a classic PAT

        missing = client.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json()["message"] == "Not Found"
        assert missing.headers["x-github-request-id"]
        assert int(missing.headers["x-ratelimit-remaining"]) < int(
            missing.headers["x-ratelimit-limit"]
        )
    app_token = sim.installation_token()
    with sim.http(app_token) as client:
        assert "x-oauth-scopes" not in client.get("/repos/acme/widgets").headers
    assert httpx.get(f"{sim.rest_url}/nope", timeout=30).headers["x-github-request-id"]


def test_pygithub_creates_updates_and_deletes_a_file(sim: RunningSim, gh: Github) -> None:
    repo = gh.get_repo("acme/gadgets")
    before = repo.get_branch("main").commit.sha
    created = repo.create_file("docs/guide.md", "Add a guide", "# Guide\n", branch="main")
    assert created["content"].path == "docs/guide.md"
    commit = created["commit"]
    assert commit.parents[0].sha == before  # a real commit on top of the branch
    assert repo.get_branch("main").commit.sha == commit.sha
    assert repo.get_contents("docs/guide.md").decoded_content == b"# Guide\n"
    assert repo.get_git_commit(commit.sha).author.name == "Alice"

    stale = created["content"].sha
    updated = repo.update_file("docs/guide.md", "Expand the guide", "# Guide\nMore.\n", stale)
    assert repo.get_contents("docs/guide.md").decoded_content == b"# Guide\nMore.\n"
    with pytest.raises(GithubException) as conflict:  # the file moved on since `stale`
        repo.update_file("docs/guide.md", "Again", "x\n", stale)
    assert conflict.value.status == 409
    assert conflict.value.data["message"] == f"docs/guide.md does not match {stale}"
    with pytest.raises(GithubException) as exists:  # updating needs the current sha
        repo.create_file("docs/guide.md", "Again", "x\n")
    assert exists.value.status == 422

    removed = repo.delete_file("docs/guide.md", "Drop the guide", updated["content"].sha)
    assert repo.get_branch("main").commit.sha == removed["commit"].sha
    with pytest.raises(UnknownObjectException):
        repo.get_contents("docs/guide.md")
    log = [c.commit.message for c in repo.get_commits()[:3]]
    assert log == ["Drop the guide", "Expand the guide", "Add a guide"]


def test_contents_writes_follow_push_rules_and_fill_empty_repositories(sim: RunningSim) -> None:
    # widgets' main requires a pull request: an App cannot write to it through contents.
    with sim.http(sim.installation_token()) as app:
        guarded = app.put(
            "/repos/acme/widgets/contents/x.txt", json={"message": "x", "content": "eA=="}
        )
        assert guarded.status_code == 422
        assert guarded.json()["message"].startswith("GH006: Protected branch update failed")
    with sim.http(ALICE) as client:
        first = client.put(
            "/repos/acme/empty/contents/README.md",
            json={"message": "Initial commit", "content": "aGkK"},
        )
        assert first.status_code == 201, first.text
        assert first.headers["location"] == first.json()["content"]["url"]
        assert first.json()["commit"]["parents"] == []
        branches = client.get("/repos/acme/empty/branches").json()
        assert [b["name"] for b in branches] == ["main"]
        missing = client.put(
            "/repos/acme/docs/contents/a.md",
            json={"message": "m", "content": "aGkK", "branch": "nope"},
        )
        assert missing.status_code == 404


def test_new_repositories_have_githubs_default_labels(sim: RunningSim, gh: Github) -> None:
    labels = {label.name: label for label in gh.get_repo("acme/empty").get_labels()}
    assert sorted(labels) == [
        "bug",
        "documentation",
        "duplicate",
        "enhancement",
        "good first issue",
        "help wanted",
        "invalid",
        "question",
        "wontfix",
    ]
    assert (labels["bug"].color, labels["bug"].description) == ("d73a4a", "Something isn't working")
    assert labels["good first issue"].color == "7057ff"
    with sim.http(ALICE) as client:
        bug = client.get("/repos/acme/empty/labels/bug").json()
        assert bug["default"] is True
        made = client.post("/repos/acme/empty/labels", json={"name": "infra", "color": "123456"})
        assert made.json()["default"] is False
        taken = client.post("/repos/acme/empty/labels", json={"name": "Bug", "color": "123456"})
        assert taken.status_code == 422


def test_push_restrictions_are_kept_returned_and_enforced(sim: RunningSim, gh: Github) -> None:
    branch = gh.get_repo("acme/gadgets").get_branch("main")
    branch.edit_protection(user_push_restrictions=["alice"], team_push_restrictions=[])
    kept = branch.get_protection().raw_data["restrictions"]
    assert [u["login"] for u in kept["users"]] == ["alice"]
    assert (kept["teams"], kept["apps"]) == ([], [])
    assert [u.login for u in branch.get_user_push_restrictions()] == ["alice"]

    app = sim.installation_token()
    with sim.http(app) as client:
        main = client.get("/repos/acme/gadgets/git/ref/heads/main").json()["object"]["sha"]
        tree = client.get(f"/repos/acme/gadgets/git/commits/{main}").json()["tree"]["sha"]
        made = client.post(
            "/repos/acme/gadgets/git/commits",
            json={"message": "bump", "tree": tree, "parents": [main]},
        ).json()["sha"]
        refused = client.patch("/repos/acme/gadgets/git/refs/heads/main", json={"sha": made})
        assert refused.status_code == 422
        assert "You're not authorized to push to this branch." in refused.json()["message"]

    branch.edit_protection(user_push_restrictions=["alice"], app_push_restrictions=["shoal"])
    with sim.http(app) as client:
        allowed = client.patch("/repos/acme/gadgets/git/refs/heads/main", json={"sha": made})
        assert allowed.status_code == 200, allowed.text
    assert branch.get_protection().raw_data["restrictions"]["apps"][0]["slug"] == "shoal"

    with pytest.raises(GithubException) as unknown:
        branch.edit_protection(user_push_restrictions=["nobody-here"])
    assert unknown.value.status == 422
    kept = branch.get_protection().raw_data["restrictions"]  # refused: kept as it was
    assert [a["slug"] for a in kept["apps"]] == ["shoal"]


def test_repository_rulesets_over_rest_refuse_pushes_with_gh013(
    sim: RunningSim, tmp_path: Path
) -> None:
    with sim.http(ALICE) as client:
        made = client.post(
            "/repos/acme/gadgets/rulesets",
            json={
                "name": "no force, no delete",
                "enforcement": "active",
                "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                "rules": [{"type": "deletion"}, {"type": "update"}],
            },
        )
        assert made.status_code == 201, made.text
        ruleset = made.json()
        assert (ruleset["source_type"], ruleset["source"]) == ("Repository", "acme/gadgets")
        assert made.headers["location"] == ruleset["_links"]["self"]["href"]
        listed = client.get("/repos/acme/gadgets/rulesets").json()
        assert [r["id"] for r in listed] == [ruleset["id"]]
        got = client.get(f"/repos/acme/gadgets/rulesets/{ruleset['id']}").json()
        assert got["rules"] == [
            {"type": "deletion"},
            {"type": "update", "parameters": {"update_allows_fetch_and_merge": False}},
        ]
        rules = client.get("/repos/acme/gadgets/rules/branches/main").json()
        assert {(r["type"], r["ruleset_source_type"]) for r in rules} == {
            ("deletion", "Repository"),
            ("update", "Repository"),
        }
        assert client.get("/repos/acme/gadgets/rules/branches/other").json() == []
        bypass = client.post(
            "/repos/acme/gadgets/rulesets",
            json={
                "name": "x",
                "enforcement": "active",
                "bypass_actors": [{"actor_id": None, "actor_type": "DeployKey"}],
            },
        )
        assert bypass.status_code == 422

    auth = f"http.extraHeader=Authorization: token {ALICE}"
    work = tmp_path / "gadgets"
    run_git("-c", auth, "clone", "-q", f"{sim.url}/acme/gadgets.git", str(work), cwd=tmp_path)
    (work / "more.txt").write_text("more\n")
    run_git("add", "more.txt", cwd=work)
    run_git("commit", "-q", "-m", "More", cwd=work)
    pushed = run_git("-c", auth, "push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "GH013: Repository rule violations found for refs/heads/main." in pushed.stderr
    assert "Cannot update this protected ref." in pushed.stderr
