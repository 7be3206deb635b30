"""PyGithub (unmodified) through a whole everyday pull-request flow against the simulator
over real HTTP: branch, file, pull request, labels, reviewers (users and a team),
assignees, listing with filters and paging, everything a pull request's page shows,
merge, close, branch deletion, renaming a repository, and REST search."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from github import Auth, Github, GithubException
from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import ALICE, pull_world


@pytest.fixture
def fsim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(pull_world())


@pytest.fixture
def gh(fsim: RunningSim) -> Iterator[Github]:
    client = Github(auth=Auth.Token(ALICE), base_url=fsim.rest_url, per_page=3)
    yield client
    client.close()


def test_a_pull_request_from_branch_to_merge(fsim: RunningSim, gh: Github) -> None:
    org = gh.get_organization("acme")
    assert len({r.name for r in org.get_repos()}) == 45  # 15 pages of 3

    repo = gh.get_repo("acme/plain")
    main = repo.get_branch("main").commit.sha
    ref = repo.create_git_ref("refs/heads/feature", main)
    assert (ref.ref, ref.object.sha) == ("refs/heads/feature", main)
    made = repo.create_file("docs/notes.md", "Add notes", "first\n", branch="feature")
    changed = repo.update_file(
        "docs/notes.md", "Expand notes", "first\nsecond\n", made["content"].sha, branch="feature"
    )
    assert repo.get_branch("main").commit.sha == main  # only the branch moved

    pull = repo.create_pull(base="main", head="feature", title="Notes", body="Adds notes.")
    assert (pull.number, pull.state, pull.head.sha) == (1, "open", changed["commit"].sha)
    pull.add_to_labels("documentation", "enhancement")
    pull.create_review_request(reviewers=["dave"], team_reviewers=["core"])
    pull.add_to_assignees("alice", "dave")

    users, teams = pull.get_review_requests()
    assert [u.login for u in users] == ["dave"]
    assert [t.slug for t in teams] == ["core"]
    fetched = repo.get_pull(1)
    assert sorted(label.name for label in fetched.labels) == ["documentation", "enhancement"]
    assert sorted(a.login for a in fetched.assignees) == ["alice", "dave"]
    assert [f.filename for f in fetched.get_files()] == ["docs/notes.md"]
    assert [c.commit.message for c in fetched.get_commits()] == ["Add notes", "Expand notes"]
    assert fetched.get_reviews().totalCount == 0
    assert fetched.get_comments().totalCount == 0  # review comments
    fetched.create_issue_comment("Looks right.")
    assert [c.body for c in fetched.get_issue_comments()] == ["Looks right."]

    head = repo.get_commit(fetched.head.sha)
    status = head.get_combined_status()
    assert (status.state, status.total_count) == ("pending", 0)
    assert head.get_check_runs().totalCount == 0
    head.create_status("success", context="ci/test", description="Tests passed")
    app = fsim.app()  # check runs are an App's: PyGithub as the App's installation
    bot = Github(
        auth=Auth.AppAuth(app["id"], app["private_key_pem"]).get_installation_auth(
            app["installations"]["acme"]
        ),
        base_url=fsim.rest_url,
    )
    bot.get_repo("acme/plain").create_check_run(
        "lint", fetched.head.sha, status="completed", conclusion="success"
    )
    bot.close()
    status = head.get_combined_status()
    assert (status.state, [s.context for s in status.statuses]) == ("success", ["ci/test"])
    runs = head.get_check_runs()
    assert [(r.name, r.conclusion, r.app.slug) for r in runs] == [("lint", "success", "shoal")]

    for n in range(3):  # more pull requests, to page through
        branch = f"topic-{n}"
        repo.create_git_ref(f"refs/heads/{branch}", main)
        repo.create_file(f"t{n}.txt", f"Topic {n}", f"{n}\n", branch=branch)
        repo.create_pull(base="main", head=branch, title=f"Topic {n}")
    listed = repo.get_pulls(state="open", base="main")
    assert [p.number for p in listed] == [4, 3, 2, 1]  # newest first, over two pages of 3
    only = repo.get_pulls(state="open", head="acme:feature")
    assert [p.title for p in only] == ["Notes"]

    merged = fetched.merge(merge_method="squash", commit_title="Notes (#1)")
    assert merged.merged
    assert repo.get_branch("main").commit.sha == merged.sha
    assert repo.get_pull(1).is_merged()
    squashed = repo.get_commit(merged.sha)
    assert (squashed.commit.message.splitlines()[0], len(squashed.parents)) == ("Notes (#1)", 1)

    repo.get_pull(2).edit(state="closed")
    assert not repo.get_pull(2).is_merged()
    assert [p.number for p in repo.get_pulls(state="closed")] == [2, 1]
    merge_commit = repo.get_pull(3).merge(merge_method="merge")
    assert len(repo.get_commit(merge_commit.sha).parents) == 2
    rebased = repo.get_pull(4).merge(merge_method="rebase")
    assert repo.get_commit(rebased.sha).commit.message == "Topic 2"  # replayed, no merge commit
    assert [p.number for p in repo.get_pulls(state="all", sort="created", direction="asc")] == [
        1,
        2,
        3,
        4,
    ]

    repo.get_git_ref("heads/feature").delete()
    with pytest.raises(GithubException) as gone:
        repo.get_branch("feature")
    assert gone.value.status == 404


def test_taking_back_labels_assignees_and_review_requests(fsim: RunningSim, gh: Github) -> None:
    repo = gh.get_repo("acme/plain")
    root = repo.get_contents("")
    assert isinstance(root, list)
    assert sorted(c.path for c in root) == ["README.md", "src"]
    main = repo.get_branch("main").commit.sha
    repo.create_git_ref("refs/heads/tidy", main)
    repo.create_file("tidy.txt", "Tidy", "tidy\n", branch="tidy")
    pull = repo.create_pull(base="main", head="tidy", title="Tidy up")
    pull.add_to_labels("bug", "wontfix")
    pull.add_to_assignees("alice", "dave")
    pull.create_review_request(reviewers=["dave"], team_reviewers=["core"])

    pull.remove_from_labels("wontfix")
    assert [label.name for label in pull.get_labels()] == ["bug"]
    pull.remove_from_assignees("dave")
    pull.delete_review_request(reviewers=["dave"], team_reviewers=["core"])
    fetched = repo.get_pull(pull.number)
    assert [a.login for a in fetched.assignees] == ["alice"]
    users, teams = fetched.get_review_requests()
    assert (list(users), list(teams)) == ([], [])

    bug = repo.get_label("bug")
    bug.edit("defect", "b60205", "Something is broken")
    assert [label.name for label in repo.get_pull(pull.number).labels] == ["defect"]
    repo.get_label("defect").delete()
    assert list(repo.get_pull(pull.number).labels) == []
    with pytest.raises(GithubException) as gone:
        repo.get_label("defect")
    assert gone.value.status == 404


def test_renaming_a_repository(fsim: RunningSim, gh: Github) -> None:
    repo = gh.get_repo("acme/plain")
    repo.edit(name="flat", description="Flat and plain")
    assert (repo.name, repo.full_name) == ("flat", "acme/flat")
    old = gh.get_repo("acme/plain")  # follows GitHub's redirect
    assert (old.full_name, old.id, old.description) == ("acme/flat", repo.id, "Flat and plain")
    assert old.get_contents("README.md").decoded_content == b"# plain\n"  # type: ignore[union-attr]
    with pytest.raises(GithubException) as taken:
        repo.edit(name="widgets")
    assert taken.value.status == 422
    assert taken.value.data["errors"][0]["message"] == "name already exists on this account"
    with fsim.http(ALICE) as client:
        moved = client.patch("/repos/acme/plain", json={"homepage": "https://example.com"})
        assert moved.status_code == 307  # a write under the old name: repeated at the new place
        assert moved.headers["location"] == f"{fsim.rest_url}/repositories/{repo.id}"


def test_search_repositories_and_pull_requests(fsim: RunningSim, gh: Github) -> None:
    go = gh.search_repositories("org:acme language:Go archived:false")
    names = [r.full_name for r in go]
    # svc-NNN alternate Go (odd) and Python (even); every 10th is archived, every 15th a fork
    assert names == [f"acme/svc-{i:03d}" for i in range(1, 41, 2) if i % 15]
    assert go.totalCount == len(names) == 19
    assert [r.name for r in gh.search_repositories("widgets in:name")] == ["widgets"]
    assert gh.search_repositories("org:globex").totalCount == 0  # alice cannot see them

    repo = gh.get_repo("acme/plain")
    main = repo.get_branch("main").commit.sha
    for n, title in enumerate(("Fix the parser", "Parser docs", "Bump deps")):
        repo.create_git_ref(f"refs/heads/b{n}", main)
        repo.create_file(f"f{n}.txt", title, f"{n}\n", branch=f"b{n}")
        repo.create_pull(base="main", head=f"b{n}", title=title)
    repo.get_pull(1).add_to_labels("bug")
    repo.get_pull(2).add_to_labels("documentation", "bug")
    repo.get_pull(2).create_review_request(reviewers=["dave"])
    repo.get_pull(3).edit(state="closed")

    def numbers(q: str, **kw: str) -> list[int]:
        return [i.number for i in gh.search_issues(q, **kw)]

    assert numbers("repo:acme/plain is:pr is:open") == [2, 1]  # newest first
    assert numbers("repo:acme/plain is:pr label:bug -label:documentation") == [1]
    assert numbers("repo:acme/plain label:bug label:documentation") == [2]
    assert numbers("repo:acme/plain is:pr parser in:title", sort="created", order="asc") == [1, 2]
    assert numbers("repo:acme/plain review-requested:dave") == [2]
    assert numbers("repo:acme/plain is:closed author:alice") == [3]
    assert numbers("org:acme is:pr no:label") == [3]
    assert numbers("repo:acme/plain is:issue") == []  # plain issues are not modelled
    found = gh.search_issues("repo:acme/plain is:pr is:open")
    first = found[0]
    assert (first.title, first.pull_request is not None) == ("Parser docs", True)
    assert [label.name for label in first.labels] == ["documentation", "bug"]
    assert first.as_pull_request().head.ref == "b1"

    with fsim.http(ALICE) as client:
        missing = client.get("/search/issues")
        assert missing.status_code == 422
        assert missing.json()["errors"] == [{"resource": "Search", "field": "q", "code": "missing"}]
        long = client.get("/search/repositories", params={"q": "x" * 257})
        assert long.status_code == 422
        beyond = client.get(
            "/search/repositories", params={"q": "org:acme", "page": 11, "per_page": 100}
        )
        assert beyond.json()["message"] == "Only the first 1000 search results are available"
        paged = client.get("/search/repositories", params={"q": "org:acme", "per_page": 5})
        assert paged.json()["total_count"] == 43  # 45, less the two forks
        assert 'rel="next"' in paged.headers["link"]
        assert client.get("/search/code", params={"q": "x"}).status_code == 404
        semantic = client.get("/search/issues", params={"q": "x", "search_type": "semantic"})
        assert semantic.status_code == 422
        lexical = client.get("/search/issues", params={"q": "repo:acme/plain bump"})
        assert lexical.json()["search_type"] == "lexical"
        assert [i["number"] for i in lexical.json()["items"]] == [3]
