"""REST bodies of the pull-request world for one repository and one set of URLs.

Routes and the webhooks (through ``webhook_bodies``) render with :class:`Bodies`, which
looks up accounts, teams and Apps and asks the engine for what GitHub derives.
"""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.pulls import gitwork
from shoal_sim.pulls.checks import suite_state
from shoal_sim.pulls.mergeability import merge_state
from shoal_sim.pulls.ports import Rendering
from shoal_sim.pulls.records import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    IssueComment,
    Label,
    PullRequest,
    Review,
)
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls
from shoal_sim.views import checks as check_views
from shoal_sim.views import issues as issue_views
from shoal_sim.views import pulls as pull_views
from shoal_sim.views.apps import integration
from shoal_sim.views.repos import minimal_repository, repository
from shoal_sim.views.users import simple_user


class Bodies:
    def __init__(self, engine: Rendering, urls: Urls, repo: Repo) -> None:
        self.engine, self.urls, self.repo = engine, urls, repo
        world = engine.world
        self.org = world.find_org(repo.owner)
        owner = world.find_account(repo.owner)
        assert owner is not None
        self.owner = owner
        self.ctx = pull_views.Context(
            urls,
            repo,
            repository(urls, repo, owner),
            self.user,
            self.teams,
            self.association,
        )

    def user(self, login: str) -> dict[str, Any] | None:
        account = self.engine.world.find_account(login)
        return simple_user(self.urls, account) if account is not None else None

    def teams(self, slugs: list[str]) -> list[dict[str, Any]]:
        world = self.engine.world
        found = [world.find_team(self.repo.owner, slug) for slug in slugs]
        if self.org is None:
            return []
        return [issue_views.team(self.urls, t, self.org, self.repo) for t in found if t]

    def association(self, login: str) -> str:
        return issue_views.author_association(self.repo, self.org, login)

    # -- pull requests -------------------------------------------------------------------

    def simple(self, pull: PullRequest) -> dict[str, Any]:
        return pull_views.pull_request_simple(self.ctx, pull)

    def pull(self, pull: PullRequest, *, lazy: bool = True) -> dict[str, Any]:
        engine, repo = self.engine, self.repo
        state = "unknown"
        conflicts = engine.conflicts(repo, pull, lazy=lazy)
        if pull.state == "open" and conflicts is not None:
            state = merge_state(engine.inputs(repo, pull)).lower()
        derived = pull_views.Derived(
            None if conflicts is None else not conflicts, state, engine.stats(repo, pull)
        )
        return pull_views.pull_request(self.ctx, pull, derived)

    def review(self, pull: PullRequest, found: Review) -> dict[str, Any]:
        return pull_views.review(self.ctx, pull, found)

    def files(self, pull: PullRequest) -> list[dict[str, Any]]:
        git = self.engine.git(self.repo)
        base = self.engine.base_tip(self.repo, pull)
        return [
            pull_views.diff_entry(self.urls, self.repo, pull.head_sha, change)
            for change in gitwork.diff_files(git, base, pull.head_sha)
        ]

    def issue(self, pull: PullRequest) -> dict[str, Any]:
        world = self.engine.world
        accounts = {login: world.find_account(login) for login in [pull.user, *pull.assignees]}
        return issue_views.issue(self.urls, self.repo, pull, accounts, self.association(pull.user))

    def comment(self, pull: PullRequest, found: IssueComment) -> dict[str, Any]:
        user = self.engine.world.find_account(found.user)
        assoc = self.association(found.user)
        return issue_views.comment(self.urls, self.repo, pull.number, found, user, assoc)

    def label(self, found: Label) -> dict[str, Any]:
        return issue_views.label(self.urls, self.repo, found)

    def labels(self, pull: PullRequest) -> list[dict[str, Any]]:
        return issue_views.labels_of(self.urls, self.repo, pull.labels)

    # -- statuses and checks -------------------------------------------------------------

    def status(self, found: CommitStatus, *, simple: bool = False) -> dict[str, Any]:
        creator = self.user(found.creator)
        if simple:
            return check_views.simple_status(self.urls, self.repo, found, creator)
        return check_views.status(self.urls, self.repo, found, creator)

    def combined(self, sha: str, state: str, statuses: list[CommitStatus]) -> dict[str, Any]:
        bodies = [self.status(s, simple=True) for s in statuses]
        repo_body = minimal_repository(self.urls, self.repo, self.owner)
        return check_views.combined(self.urls, self.repo, sha, state, bodies, repo_body)

    def app(self, app_id: int) -> dict[str, Any] | None:
        world = self.engine.world
        app = world.apps.get(app_id)
        owner = world.find_account(app.owner) if app else None
        if app is None or owner is None:
            return None
        count = sum(1 for i in world.installations.values() if i.app_id == app.id)
        return integration(self.urls, app, owner, count)

    def _pulls_at(self, sha: str) -> list[dict[str, Any]]:
        return [
            check_views.pull_minimal(
                self.urls,
                self.repo,
                p.id,
                p.number,
                (p.head_ref, p.head_sha),
                (p.base_ref, p.base_sha),
            )
            for p in self.repo.pulls.values()
            if isinstance(p, PullRequest) and p.state == "open" and p.head_sha == sha
        ]

    def check_run(self, run: CheckRun) -> dict[str, Any]:
        return check_views.check_run(
            self.urls, self.repo, run, self.app(run.app_id), self._pulls_at(run.head_sha)
        )

    def check_suite(self, suite: CheckSuite) -> dict[str, Any]:
        runs = self.engine.checks.runs_of_suite(suite.id)
        commit = self.engine.git(self.repo).commit(suite.head_sha)
        head: dict[str, Any] = {
            "id": suite.head_sha,
            "tree_id": commit.tree if commit else "",
            "message": commit.message if commit else "",
            "timestamp": "",
            "author": None,
            "committer": None,
        }
        if commit is not None:
            head["timestamp"] = iso(commit.committer.time)
            head["author"] = {"name": commit.author.name, "email": commit.author.email}
            head["committer"] = {"name": commit.committer.name, "email": commit.committer.email}
        return check_views.check_suite(
            self.urls,
            self.repo,
            suite,
            suite_state(runs),
            len({(r.app_id, r.name) for r in runs}),
            self.app(suite.app_id),
            head,
            minimal_repository(self.urls, self.repo, self.owner),
            self._pulls_at(suite.head_sha),
        )
