"""Real, unmodified clients drive the pull-request flow: githubkit (which validates every
response with models generated from GitHub's OpenAPI description) and PyGithub."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from github import Auth, Github
from tests.sim.conftest import RunningSim, githubkit_client
from tests.sim.pulls.conftest import ALICE, branch, git_push_branch, pull_world


@pytest.mark.parametrize("ghes", [False, True], ids=["dotcom", "ghes"])
def test_githubkit_full_flow(
    make_sim: Callable[..., RunningSim], tmp_path: Path, ghes: bool
) -> None:
    psim = make_sim(pull_world(), ghes=ghes)
    head = git_push_branch(psim, psim.installation_token(), "widgets", "shoal/bump", tmp_path)
    with githubkit_client(psim) as gh:
        pulls, issues = gh.rest.pulls, gh.rest.issues
        created = pulls.create(
            "acme", "widgets", title="Bump", head="shoal/bump", base="main", body="Automated"
        ).parsed_data
        number = created.number
        assert created.head.sha == head
        labels = issues.add_labels("acme", "widgets", number, labels=["deps", "shoal"])
        assert [label.name for label in labels.parsed_data] == ["deps", "shoal"]
        requested = pulls.request_reviewers(
            "acme", "widgets", number, reviewers=["dave"], team_reviewers=["core"]
        ).parsed_data
        assert [u.login for u in requested.requested_reviewers or []] == ["dave"]
        assert [t.slug for t in requested.requested_teams or []] == ["core"]
        assigned = issues.add_assignees(
            "acme", "widgets", number, assignees=["alice", "bob"]
        ).parsed_data
        assert [a.login for a in assigned.assignees or []] == ["alice"]  # bob cannot push

        assert gh.rest.checks.list_for_ref("acme", "widgets", head).parsed_data.total_count == 0
        assert pulls.list_reviews("acme", "widgets", number).parsed_data == []

        psim.admin.approve_pull("acme", "widgets", number, "dave")
        psim.admin.set_check_run("acme", "widgets", head, "ci/test", conclusion="success")

        runs = gh.rest.checks.list_for_ref("acme", "widgets", head).parsed_data
        assert [(r.name, r.conclusion) for r in runs.check_runs] == [("ci/test", "success")]
        reviews = pulls.list_reviews("acme", "widgets", number).parsed_data
        assert [(r.user.login if r.user else None, r.state) for r in reviews] == [
            ("dave", "APPROVED")
        ]
        pulls.get("acme", "widgets", number)  # GitHub starts computing mergeability
        pull = pulls.get("acme", "widgets", number).parsed_data
        assert (pull.mergeable, pull.mergeable_state) == (True, "clean")
        assert [label.name for label in pull.labels] == ["deps", "shoal"]

        merged = pulls.merge("acme", "widgets", number, merge_method="squash", sha=head).parsed_data
        assert merged.merged is True
        main = gh.rest.git.get_ref("acme", "widgets", "heads/main").parsed_data
        assert main.object_.sha == merged.sha
        closed = pulls.get("acme", "widgets", number).parsed_data
        assert (closed.state, closed.merged, closed.merged_by and closed.merged_by.login) == (
            "closed",
            True,
            "shoal[bot]",
        )
    assert any(
        e["operation"] == "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
        for e in psim.admin.ledger()
    )


def test_pygithub_create_label_and_merge(psim: RunningSim) -> None:
    branch(psim, "plain", "pyg", {"src/app.py": "print('v2')\n"})
    gh = Github(auth=Auth.Token(ALICE), base_url=psim.rest_url)
    try:
        repo = gh.get_repo("acme/plain")
        pr = repo.create_pull(base="main", head="pyg", title="PyGithub change", body="hi")
        pr.add_to_labels("bug", "small")
        assert sorted(label.name for label in repo.get_pull(pr.number).labels) == ["bug", "small"]
        files = list(pr.get_files())
        assert [(f.filename, f.status, f.additions, f.deletions) for f in files] == [
            ("src/app.py", "modified", 1, 1)
        ]
        assert [c.commit.message for c in pr.get_commits()] == ["Change pyg"]
        status = pr.merge(merge_method="merge", commit_title="Merge it")
        assert status.merged
        assert repo.get_pull(pr.number).is_merged()
        assert repo.get_commit(status.sha).commit.message.startswith("Merge it")
    finally:
        gh.close()
