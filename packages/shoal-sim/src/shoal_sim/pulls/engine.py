"""The pull-request engine: the one place that reads and changes pull requests.

REST routes, the scenario API and GraphQL (through ``graphql/pull_port.py``) all go
through :class:`PullsEngine`; it derives what GitHub computes (mergeability, merge state,
review decision, checks rollup), applies changes under the world lock and publishes the
``state/pull_events.py`` events after each change is committed. The actions themselves
live in ``actions``, ``labels``, ``people``, ``merging``, ``automerge``, ``ci`` and ``sync``,
each depending only on the narrow ports of ``ports``; this module composes them: it holds
the shared state and is the one class that satisfies every port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shoal_sim.errors import GitHubError, not_found
from shoal_sim.git import GitRepo
from shoal_sim.graphql.pull_port import PullRequestRefusedError
from shoal_sim.pulls import actions, automerge, gitwork, labels, merging, people, sync
from shoal_sim.pulls.actions import graphql_message
from shoal_sim.pulls.checks import (
    CheckStore,
    context_outcomes,
    latest_runs,
    latest_statuses,
    rollup,
)
from shoal_sim.pulls.mergeability import (
    MergeInputs,
    merge_state,
    required_contexts,
    review_decision,
)
from shoal_sim.pulls.records import CheckRun, CommitStatus, DiffStats, PullRequest
from shoal_sim.pulls.webhook_bodies import webhook_accounts
from shoal_sim.ref_updates import apply_changes
from shoal_sim.ruleset_merge import merge_bypass, merge_protection
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import user_role
from shoal_sim.state.events import PushReceived, RefChange
from shoal_sim.state.identity import node_id
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import BranchProtection, Permission, Repo, User
from shoal_sim.state.pull_events import PullRequestChanged
from shoal_sim.state.world import World
from shoal_sim.urls import Urls


def login_of(sim: Simulator, actor: Actor) -> str:
    """The account shown as the author of what ``actor`` does (an App acts as its bot)."""
    if actor.kind in ("installation", "app") and actor.app_id is not None:
        app = sim.world.apps.get(actor.app_id)
        if app is not None:
            return f"{app.slug}[bot]"
    return actor.login or "ghost"


class PullsEngine:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.checks = CheckStore()
        # Pull requests being merged right now: a merge publishes pushes, which may try
        # to auto-merge the same pull request again from inside the event handler.
        self.merging: set[tuple[int, int]] = set()
        self.merging_lock = threading.Lock()
        sim.events.subscribe(PushReceived, lambda event: sync.on_push(self, event))

    # -- ports.Ground ---------------------------------------------------------------------

    @property
    def world(self) -> World:
        return self.sim.world

    def new_id(self, kind: str, type_name: str) -> tuple[int, str]:
        ident = self.sim.world.ids.next_id(kind)
        return ident, node_id(type_name, ident)

    def git(self, repo: Repo) -> GitRepo:
        return self.sim.git.open(repo.id)

    def find(self, repo: Repo, number: int) -> PullRequest | None:
        found = repo.pulls.get(number)
        return found if isinstance(found, PullRequest) else None

    def get(self, repo: Repo, number: int) -> PullRequest:
        found = self.find(repo, number)
        if found is None:
            raise not_found()
        return found

    def login(self, actor: Actor) -> str:
        return login_of(self.sim, actor)

    def event_urls(self) -> Urls:
        """URLs for objects embedded in events (a label, an assignee): the server's own."""
        return self.sim.webhooks.urls()

    def account(self, login: str) -> User | None:
        return self.sim.world.find_user(login)

    def now(self) -> float:
        return self.sim.clock.time()

    # -- ports.Announcer ------------------------------------------------------------------

    def announce(
        self, repo: Repo, pull: PullRequest, action: str, actor: Actor, **extra: Any
    ) -> None:
        # Extras (a label, an assignee) only ever reach webhook payloads.
        extra = dict(webhook_accounts(extra))
        event = PullRequestChanged(repo.id, pull.number, action, actor, self.now(), extra)
        self.sim.events.publish(event)

    def publish(self, event: object) -> None:
        self.sim.events.publish(event)

    # -- ports.RefMoves -------------------------------------------------------------------

    def move_refs(self, repo: Repo, changes: list[RefChange], actor: Actor) -> None:
        request_id = self.sim.new_request_id()
        apply_changes(self.sim, repo, changes, actor=actor, via="api", request_id=request_id)

    def record(
        self,
        actor: Actor,
        *,
        method: str,
        path: str,
        operation: str,
        repo: Repo,
        status: int,
        detail: dict[str, Any],
    ) -> None:
        self.sim.ledger.record(
            time=self.now(),
            request_id=self.sim.new_request_id(),
            actor=actor,
            method=method,
            path=path,
            operation=operation,
            repo=repo.full_name,
            status=status,
            detail=detail,
        )

    # -- ports.Derivations: what GitHub derives --------------------------------------------

    def base_tip(self, repo: Repo, pull: PullRequest) -> str:
        """The base branch tip for an open pull request (remembered), else the frozen one."""
        if pull.state == "open" and not pull.merged:
            tip = self.git(repo).ref_sha(f"refs/heads/{pull.base_ref}")
            if tip is not None:
                pull.base_sha = tip
        return pull.base_sha

    def conflicts(self, repo: Repo, pull: PullRequest, *, lazy: bool = True) -> bool | None:
        """Whether head and base conflict; ``None`` while "GitHub is computing" it."""
        if pull.state != "open" or pull.merged:
            return None
        key = (self.base_tip(repo, pull), pull.head_sha)
        if pull.mergeable_key == key:
            return pull.conflicts
        found = gitwork.has_conflicts(self.git(repo), key[0], key[1])
        with self.sim.world.lock:
            pull.mergeable_key, pull.conflicts = key, found
        return None if lazy else found

    def stats(self, repo: Repo, pull: PullRequest) -> DiffStats:
        key = (self.base_tip(repo, pull), pull.head_sha)
        if pull.stats_key != key or pull.stats is None:
            pull.stats = gitwork.diff_stats(self.git(repo), key[0], key[1])
            pull.stats_key = key
        return pull.stats

    def protection(self, repo: Repo, branch: str) -> BranchProtection | None:
        return merge_protection(self.sim.world, repo, branch)

    def writers(self, repo: Repo) -> set[str]:
        world = self.sim.world
        with world.lock:
            users = list(world.users.values())
        return {
            u.login
            for u in users
            if u.type == "User" and user_role(world, u, repo) >= Permission.WRITE
        }

    def decision(self, repo: Repo, pull: PullRequest) -> str | None:
        rule = self.protection(repo, pull.base_ref)
        return review_decision(rule, list(pull.reviews), self.writers(repo))

    def outcomes(self, repo: Repo, sha: str) -> dict[str, str]:
        return context_outcomes(
            self.checks.statuses_of(repo.id, sha), self.checks.runs_of(repo.id, sha)
        )

    def inputs(
        self, repo: Repo, pull: PullRequest, *, lazy: bool = True, bypass: bool = False
    ) -> MergeInputs:
        conflicts = self.conflicts(repo, pull, lazy=lazy)
        base = self.base_tip(repo, pull)
        git = self.git(repo)
        return MergeInputs(
            draft=pull.draft,
            conflicts=conflicts,
            protection=self.protection(repo, pull.base_ref),
            behind=not git.is_ancestor(base, pull.head_sha),
            outcomes=self.outcomes(repo, pull.head_sha),
            decision=self.decision(repo, pull),
            bypass=bypass,
        )

    # -- graphql/pull_port.py: PullRequestEngine ------------------------------------------

    def mergeable(self, repo: Repo, pull: Any) -> str:
        conflicts = self.conflicts(repo, pull)
        return {None: "UNKNOWN", True: "CONFLICTING", False: "MERGEABLE"}[conflicts]

    def merge_state_status(self, repo: Repo, pull: Any) -> str:
        if pull.state != "open":
            return "UNKNOWN"
        return merge_state(self.inputs(repo, pull))

    def review_decision(self, repo: Repo, pull: Any) -> str | None:
        return self.decision(repo, pull)

    def rollup_state(self, repo: Repo, sha: str) -> str | None:
        return rollup(self.checks.statuses_of(repo.id, sha), self.checks.runs_of(repo.id, sha))

    def diff_stats(self, repo: Repo, pull: Any) -> DiffStats:
        return self.stats(repo, pull)

    def set_draft(self, repo: Repo, pull: Any, draft: bool, actor: Actor) -> None:
        actions.set_draft(self, repo, pull, draft, actor)

    def enable_auto_merge(
        self,
        repo: Repo,
        pull: Any,
        actor: Actor,
        *,
        merge_method: str,
        commit_title: str | None,
        commit_message: str | None,
        author_email: str | None,
        expected_head_sha: str | None,
    ) -> None:
        automerge.enable(
            self,
            repo,
            pull,
            actor,
            merge_method=merge_method,
            commit_title=commit_title,
            commit_message=commit_message,
            author_email=author_email,
            expected_head_sha=expected_head_sha,
        )

    def disable_auto_merge(self, repo: Repo, pull: Any, actor: Actor) -> None:
        automerge.disable(self, repo, pull, actor)

    def open_pull(
        self,
        repo: Repo,
        actor: Actor,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None,
        draft: bool,
        maintainer_can_modify: bool,
    ) -> Any:
        new = actions.NewPull(head, base, title, body, draft, maintainer_can_modify)
        try:
            return actions.create(self, repo, actor, new)
        except GitHubError as refused:
            raise PullRequestRefusedError(graphql_message(refused)) from refused

    # -- graphql/pull_port.py: changes over GraphQL ----------------------------------------

    def update_pull(self, repo: Repo, pull: Any, actor: Actor, fields: dict[str, Any]) -> None:
        with refused_as_graphql():
            actions.edit(self, repo, pull, actor, fields)

    def set_labels(
        self, repo: Repo, pull: Any, names: list[str], actor: Actor, *, replace: bool
    ) -> None:
        with refused_as_graphql():
            (labels.set_labels if replace else labels.add_labels)(self, repo, pull, names, actor)

    def remove_labels(self, repo: Repo, pull: Any, names: list[str], actor: Actor) -> None:
        wanted = {name.lower() for name in names}
        with refused_as_graphql():
            for name in [n for n in pull.labels if n.lower() in wanted]:
                labels.remove_label(self, repo, pull, name, actor)

    def set_assignees(
        self, repo: Repo, pull: Any, logins: list[str], actor: Actor, *, replace: bool
    ) -> None:
        if replace:
            wanted = {login.lower() for login in logins}
            gone = [a for a in pull.assignees if a.lower() not in wanted]
            people.remove_assignees(self, repo, pull, gone, actor)
        people.add_assignees(self, repo, pull, logins, actor)

    def remove_assignees(self, repo: Repo, pull: Any, logins: list[str], actor: Actor) -> None:
        people.remove_assignees(self, repo, pull, logins, actor)

    def request_reviews(
        self,
        repo: Repo,
        pull: Any,
        logins: list[str],
        slugs: list[str],
        actor: Actor,
        *,
        replace: bool,
    ) -> None:
        with refused_as_graphql():
            people.request_reviews(self, repo, pull, logins, slugs, actor)
            if replace:
                users = {login.lower() for login in logins}
                teams = {slug.lower() for slug in slugs}
                people.remove_review_requests(
                    self,
                    repo,
                    pull,
                    [u for u in pull.requested_reviewers if u.lower() not in users],
                    [t for t in pull.requested_teams if t.lower() not in teams],
                    actor,
                )

    def add_comment(self, repo: Repo, pull: Any, actor: Actor, body: str) -> Any:
        with refused_as_graphql():
            return people.add_comment(self, repo, pull, actor, body)

    def submit_review(
        self, repo: Repo, pull: Any, actor: Actor, event: str, body: str, commit: str | None
    ) -> Any:
        with refused_as_graphql():
            return people.submit_review(self, repo, pull, actor, event, body, commit)

    def merge_pull(
        self,
        repo: Repo,
        pull: Any,
        actor: Actor,
        *,
        method: str,
        expected_head_sha: str | None,
        commit_title: str | None,
        commit_message: str | None,
    ) -> str:
        request = merging.MergeRequest(method, expected_head_sha, commit_title, commit_message)
        bypass = self.admin_bypass(repo, pull, actor)
        with refused_as_graphql():
            return merging.merge(self, repo, pull, actor, request, bypass=bypass)

    def changed_files(self, repo: Repo, pull: Any) -> list[Any]:
        base = self.base_tip(repo, pull)
        return gitwork.diff_files(self.git(repo), base, pull.head_sha, with_patch=False)

    def rollup_contexts(self, repo: Repo, sha: str) -> list[Any]:
        found: list[Any] = [
            *latest_statuses(self.checks.statuses_of(repo.id, sha)),
            *latest_runs(self.checks.runs_of(repo.id, sha)),
        ]
        return sorted(found, key=_reported_at, reverse=True)

    def required_contexts(self, repo: Repo, pull: Any) -> list[str]:
        return required_contexts(self.protection(repo, pull.base_ref))

    def admin_bypass(self, repo: Repo, pull: PullRequest, actor: Actor) -> bool:
        """Admins past classic protection unless it is enforced for administrators, bypass
        actors past their rulesets."""
        return merge_bypass(self.sim.world, repo, actor, pull.base_ref)


def _reported_at(item: CommitStatus | CheckRun) -> float:
    return item.created_at if isinstance(item, CommitStatus) else item.started_at


@contextmanager
def refused_as_graphql() -> Iterator[None]:
    """GitHub's REST refusal turned into the text its GraphQL mutations answer with."""
    try:
        yield
    except GitHubError as refused:
        raise PullRequestRefusedError(graphql_message(refused)) from refused
