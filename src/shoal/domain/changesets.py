"""Changesets: the long-lived link between a campaign and one PR in one repository.

Desired state (what the campaign wants), observed state (what GitHub last showed) and the
reconciler's own state are kept apart; the state users see is derived from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

__all__ = [
    "Changeset",
    "ChangesetId",
    "ChangesetState",
    "Desired",
    "Observed",
    "ReconcilerState",
    "derive_state",
]

ChangesetId = NewType("ChangesetId", int)


class ReconcilerState(enum.StrEnum):
    IDLE = "idle"  # nothing asked of the reconciler
    QUEUED = "queued"  # a reconcile task is queued
    WAITING = "waiting"  # held back: budget, pause or kill switch (see budget_eta)
    PROCESSING = "processing"
    COMPLETED = "completed"  # GitHub matches the desired state
    FAILED = "failed"  # permanently: failure_reason / failure_message say why


class ChangesetState(enum.StrEnum):
    """What users see; derived, never stored."""

    UNPUBLISHED = "unpublished"
    SCHEDULED = "scheduled"  # publish requested, waiting for its turn or the budget
    PUBLISHING = "publishing"
    DRAFT = "draft"
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"
    FAILED = "failed"
    NEEDS_HUMAN = "needs_human"  # drift the campaign's policy leaves to a human (`drift`)


@dataclass(frozen=True, slots=True)
class Desired:
    """What the campaign wants in this repository (set by publish, read by the reconciler)."""

    publish: bool
    draft: bool
    base_branch: str
    base_sha: str
    default_branch: str
    patch_key: str
    patch_sha256: str
    title: str
    body: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    team_reviewers: tuple[str, ...]
    assignees: tuple[str, ...]
    commit_message: str
    author_name: str
    author_email: str
    campaign_name: str
    spec_version: int
    spec_hash: str
    run_id: int
    execution_id: int
    # The campaign's own share of each org's daily budget (spec policy), if it sets one.
    daily_cap: int | None = None
    # How the commit is made: "git" (deterministic sha, pushed with git) or "api" (GitHub's
    # Git Data API: signed and verified, authored by the App). Older rows lack it: git.
    commit_mode: str = "git"
    # Asked by bulk actions (services.bulk); the reconciler performs them. `close`: close the
    # open PR (and delete its branch with `delete_branch`). `comments`: comments to post on
    # the PR, each {"key", "body"}; one whose key is in `Observed.comments_posted` is done.
    # `update_branch`: a request key; merge the base into the PR's branch (GitHub's
    # update-branch) unless `Observed.update_branch_done` already equals it.
    close: bool = False
    delete_branch: bool = False
    comments: tuple[dict[str, str], ...] = ()
    update_branch: str | None = None
    # The campaign's drift policy (spec `policy.drift`): a scalar for every kind, or
    # {"default": ..., "<kind>": ...}. None: needs_human for every kind.
    drift: str | dict[str, str] | None = None
    # The campaign's cap on its open PRs (spec `policy.publish.max_open_prs`), if any.
    max_open_prs: int | None = None
    # Which campaign branches to delete (spec `policy.delete_branch`): never | on_close (of
    # a PR Shoal closes) | on_close_or_merge (of a merged PR too).
    branch_deletion: str = "never"
    # GitHub auto-merge (spec `changeset.auto_merge`): the merge method to enable it with
    # (merge | squash | rebase), None to leave it off.
    auto_merge: str | None = None
    # A base tip newer than `base_sha` on which the steps ran again (base_moved drift, or a
    # preview that read a moved base) and made this very Patch: the commit stays on
    # `base_sha`, and the base is not taken for moved until GitHub shows another tip.
    current_on: str | None = None
    # The spec's `policy.base_moved_interval` in seconds, if it sets one: the steps run again
    # on a moved base at most this often (never more often than the server allows).
    base_moved_interval_s: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name in self.__slots__
            for value in [getattr(self, name)]
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Desired:
        values: dict[str, Any] = {
            name: tuple(data[name]) if isinstance(data[name], list) else data[name]
            for name in cls.__slots__
            if name in data
        }
        return cls(**values)

    @property
    def push_key(self) -> str:
        """Identifies the commit this desired state makes: its parent (the base), its tree
        (the base with the Patch applied) and how it is made. Nothing else of the spec is in
        it: a new title, body, label or commit message is no reason for a new commit. The
        commit's other parts (message, author, date) are kept with the key, so the same key
        always makes the same commit (`publish.commits.commit_identity`)."""
        return f"{self.base_sha}:{self.patch_sha256}:{self.commit_mode}"


@dataclass(frozen=True, slots=True)
class Observed:
    """What Shoal last saw (or did) on GitHub."""

    branch_sha: str | None = None
    push_key: str | None = None
    pr_number: int | None = None
    pr_node_id: str | None = None
    pr_state: str | None = None  # open | closed | merged
    pr_url: str | None = None
    draft: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    adopted: bool = False
    # Read off GitHub (webhooks, sync); None until first read. `head_sha` is the PR's head as
    # GitHub shows it (a commit Shoal did not push means foreign commits), `base_sha` the base
    # branch's tip, `title_sha256` / `body_sha256` what the PR shows (a human edit differs from
    # the rendered template). Times are ISO 8601 strings, as GitHub sends them.
    head_sha: str | None = None
    base_sha: str | None = None
    mergeable: str | None = None  # mergeable | conflicting | unknown
    review_decision: str | None = None  # approved | changes_requested | review_required
    checks: str | None = None  # success | failure | pending
    title_sha256: str | None = None
    body_sha256: str | None = None
    pr_updated_at: str | None = None
    synced_at: str | None = None
    # Set from webhooks when the repository stops being Shoal's to write to: archived |
    # deleted | inaccessible (the App's installation was deleted or suspended, or the
    # repository was removed from it). None when it is writable as far as Shoal knows. The
    # reconciler treats a flagged changeset as needing a human.
    repo_status: str | None = None
    # What the reconciler did of the bulk requests in `Desired`: the keys of the comments it
    # posted, and the last `update_branch` request it carried out.
    comments_posted: tuple[str, ...] = ()
    update_branch_done: str | None = None
    # What Shoal itself last wrote to the PR: a read that differs is a human's edit, and what
    # Shoal set that the spec no longer asks for is removed (a human's additions stay).
    written_title_sha256: str | None = None
    written_body_sha256: str | None = None
    written_labels: tuple[str, ...] = ()
    written_reviewers: tuple[str, ...] = ()
    written_team_reviewers: tuple[str, ...] = ()
    written_assignees: tuple[str, ...] = ()
    branch_deleted: bool = False
    # A delete found the branch at a commit Shoal did not push: it is kept, for good.
    branch_kept: bool = False
    # GitHub auto-merge: the merge method GitHub shows it enabled with (None: off, or not
    # read yet), and the one Shoal itself enabled (only that one is ever turned off again).
    auto_merge: str | None = None
    written_auto_merge: str | None = None
    # new_pr drift: the PR this changeset's earlier branch had (left alone), and which
    # branch generation this is (1: the spec's branch; 2: `<branch>-2`; ...).
    supersedes: int | None = None
    generation: int = 1
    # base_moved drift: the steps are not run again on a moved base before this time (ISO
    # 8601; set when Shoal asks for a run, to that time plus the campaign's interval).
    reexecute_after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name in self.__slots__
            for value in [getattr(self, name)]
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observed:
        known: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in data.items()
            if name in cls.__slots__
        }
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Changeset:
    id: ChangesetId
    campaign_id: int
    repo: str
    org: str
    branch: str
    installation_id: int | None
    repo_github_id: int | None
    publish: bool
    desired: Desired | None
    observed: Observed
    pr_number: int | None
    reconciler_state: ReconcilerState
    failure_reason: str | None
    failure_message: str | None
    attempts: int
    budget_eta: datetime | None
    publish_requested_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # A GitHub write that started and was never recorded: its worker died in it.
    pending_operation: str | None = None
    pending_since: datetime | None = None
    # What GitHub refused to add to the open PR (reviewers, assignees, labels): the PR is
    # open all the same. Each: {"operation", "reason", "message"}.
    warnings: tuple[dict[str, str], ...] = ()
    publish_batch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Set when Shoal stopped touching the PR for a human: {"kind", "detail", "since"}.
    drift: dict[str, str] | None = None

    @property
    def state(self) -> ChangesetState:
        return derive_state(
            self.publish, self.observed, self.reconciler_state, needs_human=self.drift is not None
        )


_PR_STATES = {"merged": ChangesetState.MERGED, "closed": ChangesetState.CLOSED}


def derive_state(  # noqa: PLR0911 - the rules in order, as migration 0011 has them
    publish: bool, observed: Observed, reconciler: ReconcilerState, *, needs_human: bool = False
) -> ChangesetState:
    if observed.pr_state in _PR_STATES:
        return _PR_STATES[observed.pr_state]
    if needs_human:
        return ChangesetState.NEEDS_HUMAN
    if reconciler is ReconcilerState.FAILED:
        return ChangesetState.FAILED
    if observed.pr_number is not None:
        return ChangesetState.DRAFT if observed.draft else ChangesetState.OPEN
    if not publish:
        return ChangesetState.UNPUBLISHED
    if reconciler is ReconcilerState.PROCESSING:
        return ChangesetState.PUBLISHING
    return ChangesetState.SCHEDULED
