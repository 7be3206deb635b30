"""What the GraphQL layer needs from the pull-request feature, as two small Protocols.

Pull requests live in ``Repo.pulls`` (number -> record), owned by the pull-request
feature. GraphQL reads record attributes by the names in :class:`PullRecord`; a record
lacking one makes that field fail with a clear error instead of inventing a value.
Everything GitHub *computes* (mergeability, review decision, check rollups) and every
change (draft, auto-merge) goes through :class:`PullRequestEngine`, so rules, events and
webhooks stay in one place. Without an engine those fields and mutations answer "not
implemented".
"""

from __future__ import annotations

from typing import Any, Protocol

from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo


class AutoMergeRecord(Protocol):
    merge_method: str  # "MERGE" | "SQUASH" | "REBASE"
    enabled_at: float
    commit_title: str | None
    commit_message: str | None
    author_email: str | None


class PullRecord(Protocol):
    id: int
    node_id: str
    number: int
    state: str  # "open" | "closed"
    merged: bool
    draft: bool
    title: str
    body: str | None
    head_ref: str  # branch name, without refs/heads/
    head_sha: str
    base_ref: str
    labels: list[str]  # label names
    requested_reviewers: list[str]  # user logins asked for a review
    requested_teams: list[str]  # team slugs asked for a review
    assignees: list[str]  # user logins
    created_at: float
    updated_at: float
    closed_at: float | None
    merged_at: float | None
    auto_merge: AutoMergeRecord | None


class PullRequestRefusedError(Exception):
    """The engine refused a change; the message is GitHub's (shown as ``UNPROCESSABLE``)."""


class PullRequestEngine(Protocol):
    # `pull` is typed loosely: the engine's own record type is richer than PullRecord.
    def base_tip(self, repo: Repo, pull: Any) -> str:
        """The base branch's tip while the pull request is open (``baseRefOid``), the one it
        closed or merged on after."""
        ...

    def mergeable(self, repo: Repo, pull: PullRecord) -> str:
        """``MERGEABLE`` | ``CONFLICTING`` | ``UNKNOWN``."""
        ...

    def merge_state_status(self, repo: Repo, pull: PullRecord) -> str:
        """``BEHIND`` | ``BLOCKED`` | ``CLEAN`` | ``DIRTY`` | ``HAS_HOOKS`` | ``UNKNOWN`` |
        ``UNSTABLE`` (``DRAFT`` is deprecated)."""
        ...

    def review_decision(self, repo: Repo, pull: PullRecord) -> str | None:
        """``APPROVED`` | ``CHANGES_REQUESTED`` | ``REVIEW_REQUIRED``, or ``None`` when the
        base branch requires no review."""
        ...

    def rollup_state(self, repo: Repo, sha: str) -> str | None:
        """``StatusState`` of a commit's checks and statuses together, ``None`` if none."""
        ...

    def diff_stats(self, repo: Repo, pull: Any) -> Any:
        """``additions``, ``deletions`` and ``changed_files`` between base and head."""
        ...

    def set_draft(self, repo: Repo, pull: PullRecord, draft: bool, actor: Actor) -> None:
        """Raises :class:`PullRequestRefusedError` when GitHub would refuse."""
        ...

    def enable_auto_merge(
        self,
        repo: Repo,
        pull: PullRecord,
        actor: Actor,
        *,
        merge_method: str,
        commit_title: str | None,
        commit_message: str | None,
        author_email: str | None,
        expected_head_sha: str | None,
    ) -> None:
        """Raises :class:`PullRequestRefusedError` with GitHub's texts ("Pull request Auto
        merge is not allowed for this repository", "... is in clean status", ...)."""
        ...

    def disable_auto_merge(self, repo: Repo, pull: PullRecord, actor: Actor) -> None: ...

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
        """Opens a pull request and returns its record; raises
        :class:`PullRequestRefusedError` with GitHub's text ("A pull request already exists
        for o:b.", "No commits between main and b", "Head sha can't be blank", ...)."""
        ...

    # -- changes gh and other clients make over GraphQL; each raises
    # :class:`PullRequestRefusedError` with GitHub's text when GitHub would refuse.

    def update_pull(self, repo: Repo, pull: Any, actor: Actor, fields: dict[str, Any]) -> None:
        """``title``, ``body``, ``base``, ``maintainer_can_modify``, ``state`` (open|closed)."""
        ...

    def set_labels(
        self, repo: Repo, pull: Any, names: list[str], actor: Actor, *, replace: bool
    ) -> None: ...

    def remove_labels(self, repo: Repo, pull: Any, names: list[str], actor: Actor) -> None: ...

    def set_assignees(
        self, repo: Repo, pull: Any, logins: list[str], actor: Actor, *, replace: bool
    ) -> None:
        """Accounts without push access are dropped silently, as on GitHub."""
        ...

    def remove_assignees(self, repo: Repo, pull: Any, logins: list[str], actor: Actor) -> None: ...

    def request_reviews(
        self,
        repo: Repo,
        pull: Any,
        logins: list[str],
        slugs: list[str],
        actor: Actor,
        *,
        replace: bool,
    ) -> None: ...

    def add_comment(self, repo: Repo, pull: Any, actor: Actor, body: str) -> Any:
        """Returns the new comment record (``id``, ``node_id``, ``user``, ``body``, ...)."""
        ...

    def submit_review(
        self, repo: Repo, pull: Any, actor: Actor, event: str, body: str, commit: str | None
    ) -> Any:
        """``event``: APPROVE | REQUEST_CHANGES | COMMENT; returns the review record."""
        ...

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
        """``method``: merge | squash | rebase; returns the new tip of the base branch."""
        ...

    def changed_files(self, repo: Repo, pull: Any) -> list[Any]:
        """Files changed (``filename``, ``status``, ``additions``, ``deletions``)."""
        ...

    def rollup_contexts(self, repo: Repo, sha: str) -> list[Any]:
        """The statuses (latest per context) and check runs (latest per app and name)
        reported on a commit, newest first."""
        ...

    def writers(self, repo: Repo) -> set[str]:
        """Logins of the users with write access, whose reviews count."""
        ...

    def required_contexts(self, repo: Repo, pull: Any) -> list[str]:
        """Context and check names the pull request's base branch requires."""
        ...
