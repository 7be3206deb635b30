"""Records of the pull-request world: pull requests, labels, comments, reviews, commit
statuses, check suites and check runs.

Mutable on purpose, like the core's records: the engine changes them under the world lock.
Pull requests live in ``Repo.pulls`` (number -> :class:`PullRequest`), repository labels in
``Repo.labels`` (lower-cased name -> :class:`Label`); statuses and checks live in the
engine's :class:`~shoal_sim.pulls.checks.CheckStore`, keyed by commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoal_sim.state.ledger import Actor


@dataclass
class AutoMerge:
    merge_method: str  # "MERGE" | "SQUASH" | "REBASE", GraphQL's spelling
    enabled_at: float
    enabled_by: str  # login of the account that enabled it
    actor: Actor  # who the eventual merge is attributed to (ledger, events)
    commit_title: str | None = None
    commit_message: str | None = None
    author_email: str | None = None


@dataclass
class Label:
    id: int
    node_id: str
    name: str
    color: str
    description: str | None = None
    default: bool = False


@dataclass
class IssueComment:
    id: int
    node_id: str
    user: str
    body: str
    created_at: float
    updated_at: float


@dataclass
class Review:
    id: int
    node_id: str
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    body: str
    commit_id: str
    submitted_at: float


@dataclass
class DiffStats:
    """What GitHub shows about a pull request's changes, for one (base, head) pair."""

    commits: int
    additions: int
    deletions: int
    changed_files: int


@dataclass
class PullRequest:
    """One pull request; the attribute names GraphQL reads are those of ``PullRecord``."""

    id: int
    node_id: str
    number: int
    user: str  # login of the author (``slug[bot]`` for an App)
    title: str
    body: str | None
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str  # base tip when last looked at; frozen when the PR closes
    created_at: float
    updated_at: float
    state: str = "open"  # "open" | "closed"
    draft: bool = False
    merged: bool = False
    merged_at: float | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: float | None = None
    maintainer_can_modify: bool = False
    labels: list[str] = field(default_factory=list)  # label names, in the order added
    assignees: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)  # team slugs
    comments: list[IssueComment] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    auto_merge: AutoMerge | None = None
    head_deleted: bool = False
    # Mergeability is computed lazily, like GitHub's background job: the first read after
    # the head or base moved answers "unknown" and leaves the result for the next read.
    mergeable_key: tuple[str, str] | None = None
    conflicts: bool | None = None
    stats_key: tuple[str, str] | None = None
    stats: DiffStats | None = None

    @property
    def review_comments(self) -> int:
        return 0  # line comments are not modelled


@dataclass
class CommitStatus:
    id: int
    node_id: str
    sha: str
    state: str  # error | failure | pending | success
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: float
    updated_at: float


@dataclass
class CheckSuite:
    id: int
    node_id: str
    repo_id: int
    app_id: int
    head_sha: str
    head_branch: str | None
    created_at: float
    updated_at: float


@dataclass
class CheckRun:
    id: int
    node_id: str
    repo_id: int
    suite_id: int
    app_id: int
    head_sha: str
    name: str
    status: str  # queued | in_progress | completed | ...
    conclusion: str | None
    started_at: float
    completed_at: float | None
    details_url: str | None = None
    external_id: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
